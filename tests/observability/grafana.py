"""Reading the dashboards; expanding their queries the way Grafana's Prometheus data source does."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tests.support.tools import REPO

DASHBOARDS = sorted((REPO / "grafana-dashboards").glob("*.json"))
BUILTIN = {"__interval", "__interval_ms", "__rate_interval", "__range", "__range_s", "__range_ms"}
VAR_RE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))|\[\[(\w+)\]\]")
LABEL_VALUES_RE = re.compile(r"^label_values\((?:(.*),\s*)?(\w+)\)$", re.S)
# Grafana's prometheusSpecialRegexEscape: the characters escaped in a multi-value/All regex.
REGEX_SPECIAL = re.compile(r"([\\^$*+?.()|{}\[\]])")


@dataclass
class Query:
    dashboard: str
    panel: str
    ref: str
    expr: str
    instant: bool

    @property
    def id(self) -> str:
        return f"{self.dashboard}:{self.panel}:{self.ref}"


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def variables(dashboard: dict) -> list[dict]:
    return dashboard.get("templating", {}).get("list", [])


def queries(dashboard: dict) -> list[Query]:
    return [
        Query(dashboard["uid"], p["title"], t["refId"], t["expr"], bool(t.get("instant")))
        for p in panels(dashboard)
        for t in p.get("targets", [])
        if t.get("expr")
    ]


def used_variables(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in VAR_RE.finditer(text)}


def variable_query(var: dict) -> str:
    q = var.get("query")
    return q.get("query", "") if isinstance(q, dict) else q or ""


def parse_label_values(query: str) -> tuple[str | None, str]:
    """label_values(selector, label) → (selector or None, label)."""
    m = LABEL_VALUES_RE.match(query.strip())
    if not m:
        raise ValueError(f"only label_values(...) variable queries are supported: {query!r}")
    return m.group(1), m.group(2)


def grafana_duration(seconds: float) -> str:
    return f"{round(seconds)}s"


def rate_interval(interval_s: float, scrape_s: float) -> str:
    """$__rate_interval = max($__interval + scrape interval, 4 * scrape interval)."""
    return grafana_duration(max(interval_s + scrape_s, 4 * scrape_s))


def format_value(var: dict, selected: list[str], options: list[str]) -> str:
    """The text Grafana puts into a PromQL query for a query variable's selection.

    Multi-value or include-All variables are regex-escaped, several values become (a|b),
    All becomes allValue if set, else every option as a regex alternation."""
    if not var.get("multi") and not var.get("includeAll"):
        return selected[0]
    if selected == ["$__all"]:
        if var.get("allValue"):
            return var["allValue"]
        selected = options
    escaped = [REGEX_SPECIAL.sub(r"\\\1", v) for v in selected]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(text: str, values: dict[str, str]) -> str:
    def repl(m: re.Match) -> str:
        name = next(g for g in m.groups() if g)
        if name not in values:
            raise KeyError(f"variable ${name} has no value")
        return values[name]

    return VAR_RE.sub(repl, text)


def apply_regex(var: dict, values: list[str]) -> list[str]:
    """A variable's `regex` option (/.../) filters the values label_values returned."""
    pattern = var.get("regex") or ""
    if not pattern:
        return values
    rx = re.compile(pattern.strip("/"))
    return [v for v in values if rx.search(v)]
