"""checkov on the chart's default render: every failed check is an accepted, reasoned skip
in checkov-skips.yaml (the one config file), and every skip there is still needed."""

import fnmatch
import json
import subprocess
from pathlib import Path

import yaml

from tests.support import helm
from tests.support.tools import require_tool

SKIPS = Path(__file__).with_name("checkov-skips.yaml")


def failed_checks(manifest: str, tmp_path: Path) -> list[tuple[str, str]]:
    checkov = require_tool("checkov", "make venv (pinned in requirements-dev.txt)")
    folder = tmp_path / "render"
    folder.mkdir()
    (folder / "chart.yaml").write_text(manifest)
    done = subprocess.run(
        [
            checkov,
            "-d",
            str(folder),
            "--framework",
            "kubernetes",
            "--quiet",
            "--compact",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    reports = json.loads(done.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports), done.stdout[:2000]
    assert sum(r["summary"]["passed"] for r in reports) > 100
    return [(f["check_id"], f["resource"]) for r in reports for f in r["results"]["failed_checks"]]


def accepted(check: str, resource: str, skips: list[dict]) -> dict | None:
    for skip in skips:
        if skip["check"] == check and any(fnmatch.fnmatch(resource, p) for p in skip["resources"]):
            return skip
    return None


def test_skips_file_gives_a_reason_for_each_skip():
    skips = yaml.safe_load(SKIPS.read_text())
    for skip in skips:
        assert skip["check"].startswith("CKV_K8S_") and skip["resources"]
        assert len(skip["reason"].split()) >= 8, skip


def test_checkov_has_no_failed_check_on_the_default_render(tmp_path):
    skips = yaml.safe_load(SKIPS.read_text())
    failures = failed_checks(helm.render_text(), tmp_path)
    unexplained = [f for f in failures if accepted(*f, skips) is None]
    assert not unexplained, f"failed checkov checks without a skip: {unexplained}"
    used = {id(accepted(*f, skips)) for f in failures}
    stale = [s["check"] for s in skips if id(s) not in used]
    assert not stale, f"skips that no longer match a failure (remove them): {stale}"


def test_checkov_catches_a_weakened_render(tmp_path):
    """The same run fails when the security context is dropped (the test can fail)."""
    skips = yaml.safe_load(SKIPS.read_text())
    manifest = helm.render_text(values={"securityContext": {"readOnlyRootFilesystem": False}})
    failures = failed_checks(manifest, tmp_path)
    assert [f for f in failures if accepted(*f, skips) is None]
