"""The chart README's parameter table matches values.yaml: same keys, same defaults."""

import json
import re

from tests.support import helm

# Maps shown as one row (their inner keys are free-form Kubernetes fields).
WHOLE = {
    "resources",
    "podSecurityContext",
    "securityContext",
    "namespaceSelector",
    "podSelector",
    "labels",
}
ROW = re.compile(r"^\| `([^`]+)` \| (.+?) \| `(.*)` \|$")


def flatten(values: dict, prefix: str = ""):
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and value and key not in WHOLE:
            yield from flatten(value, name)
        else:
            yield name, value


def readme_rows() -> dict[str, object]:
    rows = {}
    for line in (helm.CHART / "README.md").read_text().splitlines():
        match = ROW.match(line)
        if match:
            name, description, default = match.groups()
            assert name not in rows, f"{name} is listed twice"
            assert description.strip(), f"{name} has no description"
            rows[name] = json.loads(default)
    return rows


def test_every_value_is_documented_with_its_default():
    values = dict(flatten(helm.chart_values()))
    rows = readme_rows()
    assert sorted(set(values) - set(rows)) == [], "values missing from the README table"
    assert sorted(set(rows) - set(values)) == [], "README rows with no such value"
    wrong = {k: (rows[k], v) for k, v in values.items() if rows[k] != v}
    assert wrong == {}, "README default differs from values.yaml: {name: (readme, values)}"


def test_the_issue_value_names_exist():
    """The value names users and the README rely on (issue 3)."""
    values = dict(flatten(helm.chart_values()))
    names = set(values) | {n.rsplit(".", 1)[0] for n in values}
    for name in [
        "replicaCount",
        "image.repository",
        "image.tag",
        "image.pullPolicy",
        "service.type",
        "service.port",
        "service.metricsPort",
        "ingress.enabled",
        "ingress.className",
        "ingress.annotations",
        "ingress.hosts",
        "ingress.tls",
        "httpRoute.enabled",
        "config",
        "versions",
        "auth.existingSecret",
        "auth.admin.username",
        "mysql.enabled",
        "mysql.image.repository",
        "mysql.auth.database",
        "mysql.auth.username",
        "mysql.auth.existingSecret",
        "mysql.primary.persistence.size",
        "mysql.primary.persistence.storageClass",
        "mysql.resources",
        "externalDatabase.host",
        "externalDatabase.port",
        "externalDatabase.database",
        "externalDatabase.username",
        "externalDatabase.existingSecret",
        "tokenCleanup.enabled",
        "tokenCleanup.schedule",
        "tokenCleanup.batchSize",
        "tokenCleanup.pauseRatio",
        "metrics.serviceMonitor.enabled",
        "metrics.serviceMonitor.interval",
        "metrics.serviceMonitor.additionalLabels",
        "metrics.prometheusRule.enabled",
        "metrics.prometheusRule.additionalLabels",
        "dashboards.enabled",
        "dashboards.namespace",
        "dashboards.labels",
        "dashboards.annotations",
        "autoscaling.enabled",
        "autoscaling.minReplicas",
        "autoscaling.maxReplicas",
        "autoscaling.targetCPUUtilizationPercentage",
        "podDisruptionBudget",
        "networkPolicy.enabled",
        "resources",
        "podSecurityContext",
        "securityContext",
        "nodeSelector",
        "tolerations",
        "affinity",
        "topologySpreadConstraints",
    ]:
        assert name in names, name
