"""The alerting rules: promtool checks them, its unit tests cover each alert, runbooks exist."""

import re
import subprocess

import yaml

from tests.support.tools import REPO

RULES = REPO / "prometheus" / "alerts.rules.yaml"
UNIT_TESTS = sorted((REPO / "prometheus" / "tests").glob("*.yaml"))
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_BASE = "https://github.com/OWNER/fastapi-example/blob/main/docs/runbooks.md#"


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for g in groups for rule in g["rules"] if "alert" in rule]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=REPO)


def test_promtool_check_rules(promtool):
    done = run(promtool, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests(promtool):
    assert UNIT_TESTS
    done = run(promtool, "test", "rules", *map(str, UNIT_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_alerts_the_issue_asks_for():
    exprs = {a["alert"]: a["expr"] for a in alerts()}
    assert set(exprs) == {
        "FastAPIExampleAbsent",
        "FastAPIExampleDown",
        "FastAPIExampleHighErrorRatio",
        "FastAPIExampleHighLatency",
        "FastAPIExamplePodRestarting",
        "FastAPIExampleTokenCleanupFailed",
        "FastAPIExampleTokenCleanupNotSucceeding",
        "FastAPIExampleMySQLDown",
    }
    assert "highr" in exprs["FastAPIExampleHighLatency"]  # the fine histogram
    assert 'status="5xx"' in exprs["FastAPIExampleHighErrorRatio"]


def test_every_alert_has_one_firing_and_one_silent_case():
    firing, silent = set(), set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for t in case.get("alert_rule_test", []):
                (firing if t.get("exp_alerts") else silent).add(t["alertname"])
                for exp in t.get("exp_alerts") or []:
                    assert {"summary", "description", "runbook_url"} <= set(exp["exp_annotations"])
    names = {a["alert"] for a in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"


def test_annotations_and_runbooks():
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in RUNBOOKS.read_text().splitlines()
        if line.startswith("## ")
    }
    for a in alerts():
        assert a["labels"]["severity"] in ("warning", "critical"), a["alert"]
        ann = a["annotations"]
        assert ann["summary"] and ann["description"], a["alert"]
        assert ann["runbook_url"] == RUNBOOK_BASE + a["alert"].lower(), a["alert"]
        assert a["alert"].lower() in anchors, f"no runbook section for {a['alert']}"
