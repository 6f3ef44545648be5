"""values.schema.json (and the chart's own checks) reject wrong values, with Helm 4 and 3."""

import pytest

from tests.support import helm

# case: (values, words the error must contain: Helm 4 and Helm 3 word schema errors
# differently, both name the offending keys)
BAD = {
    "wrong type": ({"replicaCount": "two"}, ["replicaCount"]),
    "unknown top-level key": ({"replicas": 2}, ["replicas"]),
    "unknown nested key": ({"image": {"name": "x"}}, ["image", "name"]),
    "port out of range": ({"service": {"port": 70000}}, ["service", "port"]),
    "version without supported": ({"versions": [{"version": "1.0"}]}, ["versions", "supported"]),
    "version as a number": (
        {"versions": [{"version": 1.0, "supported": True}]},
        ["versions", "version"],
    ),
    "version longer than the column": (
        {"versions": [{"version": "2.0.0-rc.1+build.12345", "supported": True}]},
        ["versions", "version"],
    ),
    "admin name shorter than a login takes": (
        {"auth": {"admin": {"username": "ab"}}},
        ["username"],
    ),
    "admin name longer than a login takes": (
        {"auth": {"admin": {"username": "a-very-long-administrator-name-of-40-ch"}}},
        ["username"],
    ),
    "MySQL user root (the image refuses it)": (
        {"mysql": {"auth": {"username": "root"}}},
        ["mysql", "username"],
    ),
    "statement timeout the lock wait would outlast": (
        {"config": {"dbStatementTimeout": 1}},
        ["dbStatementTimeout"],
    ),
    "log level": ({"config": {"logLevel": "LOUD"}}, ["logLevel"]),
    "image digest that is not sha256": ({"image": {"digest": "latest"}}, ["image", "digest"]),
    "image registry with a scheme": (
        {"image": {"registry": "https://ghcr.io/owner"}},
        ["image", "registry"],
    ),
    "scrape interval": (
        {"metrics": {"serviceMonitor": {"interval": "soon"}}},
        ["serviceMonitor", "interval"],
    ),
    "external database without host or secret": (
        {"mysql": {"enabled": False}},
        ["externalDatabase", "host", "existingSecret"],
    ),
    "ingress enabled without hosts": (
        {"ingress": {"enabled": True, "hosts": []}},
        ["ingress", "hosts"],
    ),
    "image tag as a number (YAML reads 1.20 as 1.2)": ({"image": {"tag": 1.2}}, ["image", "tag"]),
    "MySQL tag as a number (8.0 would pull mysql:8)": (
        {"mysql": {"image": {"tag": 8.0}}},
        ["mysql", "tag"],
    ),
    "cleanup schedule that is not cron": (
        {"tokenCleanup": {"schedule": "every hour"}},
        ["tokenCleanup", "schedule"],
    ),
    "scrape timeout longer than the interval": (
        {"metrics": {"serviceMonitor": {"interval": "5s"}}},
        ["scrapeTimeout must not exceed its interval"],
    ),
    "autoscaling min above max": (
        {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}},
        ["minReplicas must not exceed"],
    ),
    "duplicate version": (
        {"versions": [{"version": "1.0", "supported": True}] * 2},
        ['"1.0" is listed twice'],
    ),
    "shutdown longer than the grace period": (
        {"config": {"gracefulShutdownSeconds": 60}},
        ["below terminationGracePeriodSeconds"],
    ),
}


@pytest.mark.parametrize("helm_name", helm.HELMS)
@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_values_are_rejected(helm_name, case):
    values, words = BAD[case]
    with pytest.raises(helm.RenderError) as error:
        helm.render(values=values, helm=helm_name)
    assert all(word in str(error.value) for word in words), str(error.value)


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_good_combinations_are_accepted(helm_name):
    ok = {
        "mysql": {"enabled": False},
        "externalDatabase": {"host": "db.example", "existingSecret": "db"},
        "podDisruptionBudget": {"minAvailable": "50%", "maxUnavailable": ""},
        "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 2},
        "image": {"tag": "2"},
        "tokenCleanup": {"schedule": "@hourly"},
        "metrics": {"serviceMonitor": {"interval": "1m", "scrapeTimeout": "59500ms"}},
    }
    assert helm.render(values=ok, helm=helm_name)


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_pdb_min_available_wins_over_the_default_max_unavailable(helm_name):
    objects = helm.render(values={"podDisruptionBudget": {"minAvailable": 1}}, helm=helm_name)
    spec = helm.find(objects, "PodDisruptionBudget")["spec"]
    assert (spec["minAvailable"], "maxUnavailable" in spec) == (1, False)
