"""Dashboard JSON lint: what a dashboard needs under kube-prometheus-stack's Grafana sidecar."""

import json
import re

import pytest

from tests.observability import grafana

BY_NAME = pytest.mark.parametrize("path", grafana.DASHBOARDS, ids=lambda p: p.stem)
DS_REF = {"type": "prometheus", "uid": "${datasource}"}


def test_the_three_dashboards_exist():
    assert {p.stem for p in grafana.DASHBOARDS} == {"api-overview", "runtime", "jobs-database"}


@BY_NAME
def test_valid_json_with_a_stable_uid(path):
    d = json.loads(path.read_text())
    assert re.fullmatch(r"[a-z0-9-]{1,40}", d["uid"]), d["uid"]
    assert d["title"] and "fastapi-example" in d["tags"]


def test_uids_and_titles_are_unique():
    boards = [grafana.load(p) for p in grafana.DASHBOARDS]
    assert len({d["uid"] for d in boards}) == len(boards)
    assert len({d["title"] for d in boards}) == len(boards)


@BY_NAME
def test_panel_ids_are_unique(path):
    ids = [p["id"] for p in grafana.panels(grafana.load(path))]
    assert len(ids) == len(set(ids)), ids


@BY_NAME
def test_no_ds_inputs(path):
    text = path.read_text()
    d = json.loads(text)
    assert "__inputs" not in d and "__requires" not in d
    assert not re.search(r"\$\{?DS_", text), "hard-coded ${DS_...} data source input"


@BY_NAME
def test_every_panel_and_target_uses_the_datasource_variable(path):
    d = grafana.load(path)
    for panel in grafana.panels(d):
        if panel["type"] == "row":
            continue
        assert panel.get("datasource") == DS_REF, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target.get("datasource", DS_REF) == DS_REF, panel["title"]


@BY_NAME
def test_template_variables(path):
    d = grafana.load(path)
    variables = {v["name"]: v for v in grafana.variables(d)}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert {"namespace", "job"} <= set(variables)
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == DS_REF, var["name"]
            grafana.parse_label_values(grafana.variable_query(var))  # only label_values()


@BY_NAME
def test_every_variable_used_is_defined(path):
    d = grafana.load(path)
    defined = {v["name"] for v in grafana.variables(d)} | grafana.BUILTIN
    used = set()
    for panel in grafana.panels(d):
        used |= grafana.used_variables(json.dumps(panel))
    for var in grafana.variables(d):
        used |= grafana.used_variables(grafana.variable_query(var))
    assert used <= defined, f"undefined: {used - defined}"


@BY_NAME
def test_no_hard_coded_job_or_namespace(path):
    for q in grafana.queries(grafana.load(path)):
        assert not re.search(r'\b(job|namespace)\s*=~?\s*"[^$]', q.expr), q.id
        if "http_" in q.expr or "fastapi_example_" in q.expr or "process_" in q.expr:
            assert 'job=~"$job"' in q.expr and 'namespace=~"$namespace"' in q.expr, q.id


@BY_NAME
def test_links_to_the_other_dashboards(path):
    links = grafana.load(path)["links"]
    assert any(
        link["type"] == "dashboards"
        and "fastapi-example" in link["tags"]
        and link["includeVars"]
        and link["keepTime"]
        for link in links
    )
