"""The GitHub workflows run what the README promises, with make targets that exist."""

import subprocess

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
