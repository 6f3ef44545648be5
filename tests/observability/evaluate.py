"""Running a dashboard's panel queries through Prometheus' HTTP API, as Grafana would."""

import math

from tests.observability import grafana
from tests.observability.promserver import Prometheus

# Series a test Prometheus cannot scrape here (no cluster): kube-state-metrics and the kubelet.
SYNTHETIC_ONLY = ("kube_", "kubelet_")


def needs_synthetic(expr: str) -> bool:
    return any(prefix in expr for prefix in SYNTHETIC_ONLY)


def resolve(
    prom: Prometheus,
    dashboard: dict,
    start: float,
    end: float,
    pick_all: bool,
    live: bool,
    selected: dict[str, str] | None = None,
) -> dict[str, str]:
    """Template variables in order, each query run with the earlier values substituted.

    `selected` is what a user picked (a variable's value, which must be among its options);
    for the others pick_all selects All where offered, else the first value. On the live
    Prometheus the variables over cluster series stay unresolved (only synthetic-only queries
    use them)."""
    values = {"datasource": "prometheus"}
    for var in grafana.variables(dashboard):
        if var["type"] != "query":
            continue
        query = grafana.substitute(grafana.variable_query(var), values)
        if live and needs_synthetic(query):
            values[var["name"]] = "<needs cluster series>"
            continue
        selector, label = grafana.parse_label_values(query)
        options = grafana.apply_regex(var, prom.label_values(label, selector, start, end))
        assert options, f"{dashboard['uid']}: variable ${var['name']} has no values ({query})"
        chosen = ["$__all"] if pick_all and var.get("includeAll") else options[:1]
        if selected and var["name"] in selected:
            assert selected[var["name"]] in options, (var["name"], options)
            chosen = [selected[var["name"]]]
        values[var["name"]] = grafana.format_value(var, chosen, options)
    return values


def time_vars(start: float, end: float, step_s: float, scrape_s: float) -> dict[str, str]:
    return {
        "__interval": grafana.grafana_duration(step_s),
        "__rate_interval": grafana.rate_interval(step_s, scrape_s),
        "__range": grafana.grafana_duration(end - start),
    }


def finite_values(result: list[dict]) -> list[float]:
    points = [s["value"] for s in result if "value" in s]
    points += [p for s in result for p in s.get("values", [])]
    return [v for v in (float(p[1]) for p in points) if math.isfinite(v)]


def evaluate(
    prom: Prometheus,
    dashboard: dict,
    start: float,
    end: float,
    step_s: float,
    scrape_s: float,
    pick_all: bool,
    live: bool,
    selected: dict[str, str] | None = None,
) -> int:
    """Run the dashboard's queries (live: those over the API's series; else: those over
    cluster series); each must parse and return at least one finite value. Returns the
    number of queries run."""
    values = resolve(prom, dashboard, start, end, pick_all, live, selected)
    values |= time_vars(start, end, step_s, scrape_s)
    empty, ran = [], 0
    for q in grafana.queries(dashboard):
        if needs_synthetic(q.expr) == live:
            continue
        expr = grafana.substitute(q.expr, values)
        result = prom.instant(expr, end) if q.instant else prom.range(expr, start, end, step_s)
        ran += 1
        if not finite_values(result):
            empty.append(f"{q.id}: {expr}")
    assert not empty, "queries without data:\n" + "\n".join(empty)
    return ran
