"""The HTTP request metrics: observe.py's middleware against prometheus-fastapi-instrumentator.

The dashboards and alerts query the families the instrumentator made; the middleware that
replaced it must give the same names, label names, label values and buckets. One app carries
both (the instrumentator as configured before, on its own registry) and takes one request of
each kind; counts are compared, never durations.
"""

from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

# A test requirement (requirements-dev.txt): the app itself no longer uses it.
from prometheus_fastapi_instrumentator import Instrumentator

from fastapi_example.main import create_app
from fastapi_example.metrics import UNCOUNTED_PATHS
from tests.service.conftest import make_settings, migrated

# Instrumentator(...).instrument(...) exactly as metrics.py called it before.
OLD_HIGHR_BUCKETS = (
    *(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1),
    *(1.5, 2, 3, 5, 10, 30, 60),
)
OLD_LOWR_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1)
DROPPED = {"http_request_size_bytes", "http_response_size_bytes"}  # nothing queries them

# (method, path, request options, status, handler label)
REQUESTS = [
    ("GET", "/versions", {}, 200, "/versions"),
    ("GET", "/roles/1", {}, 200, "/roles/{role_id}"),
    ("GET", "/logo.png", {}, 200, "none"),  # the static files mounted at /
    ("GET", "/", {}, 307, "/"),
    ("GET", "/no/such/path", {}, 404, "none"),
    ("DELETE", "/versions", {}, 405, "none"),  # the mount at / takes a wrong method too
    ("GET", "/items", {}, 401, "/items"),
    ("GET", "/roles", {"headers": {"X-Version": "0.3"}}, 426, "/roles"),
    ("POST", "/auth/token", {"json": {"username": "x"}}, 422, "/auth/token"),
    ("GET", "/items/7", {}, 401, "/items/{item_id}"),
    ("GET", "/explode", {}, 500, "/explode"),  # raised inside the route
]
PROBES = ["/healthz", "/readyz", "/metrics"]  # /metrics is a 404 on the API port


@pytest.fixture(scope="module")
def registries(tmp_path_factory) -> Iterator[tuple[CollectorRegistry, CollectorRegistry]]:
    """(the app's registry, the instrumentator's) after REQUESTS and PROBES."""
    reference = CollectorRegistry()
    app = create_app(migrated(make_settings(None, tmp_path_factory.mktemp("metrics"))))
    # Added after ours (observe.ObserveRequests), so it wraps ours and sees the same requests.
    Instrumentator(
        should_group_status_codes=True,
        excluded_handlers=[f"^{path}$" for path in UNCOUNTED_PATHS],
        registry=reference,
    ).instrument(
        app,
        latency_highr_buckets=OLD_HIGHR_BUCKETS,
        latency_lowr_buckets=OLD_LOWR_BUCKETS,
    )

    def explode():
        raise RuntimeError("boom")

    app.add_api_route("/explode", explode)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the static mount at /
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        for method, path, options, status, _ in REQUESTS:
            assert client.request(method, path, **options).status_code == status, path
        for path in PROBES * 2:
            client.get(path)
    yield app.state.metrics.registry, reference


def http_families(registry: CollectorRegistry) -> dict:
    return {f.name: f for f in registry.collect() if f.name.startswith("http_")}


def sample_values(family) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}


def test_requests_are_counted_by_method_status_class_and_route_template(registries):
    ours, _ = registries
    counted = {
        (s.labels["method"], s.labels["status"], s.labels["handler"]): s.value
        for s in http_families(ours)["http_requests"].samples
    }
    expected = Counter((m, f"{status // 100}xx", handler) for m, _, _, status, handler in REQUESTS)
    assert counted == expected
    assert {handler for _, _, handler in counted}.isdisjoint(PROBES)


def test_latency_histograms_have_the_old_labels_and_buckets(registries):
    families = http_families(registries[0])
    assert set(families) == {
        "http_requests",
        "http_request_duration_seconds",
        "http_request_duration_highr_seconds",
    }
    buckets = {
        name: {
            (tuple(sorted(set(s.labels) - {"le"})), s.labels["le"])
            for s in families[name].samples
            if s.name.endswith("_bucket")
        }
        for name in ("http_request_duration_seconds", "http_request_duration_highr_seconds")
    }
    les = ["0.005", "0.025", "0.1", "0.5", "1.0", "+Inf"]
    handlers = {handler for *_, handler in REQUESTS}
    assert {le for _, le in buckets["http_request_duration_seconds"]} == set(les)
    assert {labels for labels, _ in buckets["http_request_duration_seconds"]} == {
        ("handler", "method")
    }
    assert {
        s.labels["handler"] for s in families["http_request_duration_seconds"].samples
    } == handlers
    highr = buckets["http_request_duration_highr_seconds"]
    assert {labels for labels, _ in highr} == {()}
    assert {le for _, le in highr} == {str(float(b)) for b in OLD_HIGHR_BUCKETS} | {"+Inf"}
    (count,) = [
        s.value
        for s in families["http_request_duration_highr_seconds"].samples
        if s.name.endswith("_count")
    ]
    assert count == len(REQUESTS)


def test_same_series_as_the_instrumentator(registries):
    ours, reference = registries
    ours, reference = http_families(ours), http_families(reference)
    assert set(reference) - set(ours) == DROPPED
    for name, family in ours.items():
        old = reference[name]
        assert (family.type, family.documentation) == (old.type, old.documentation), name
        values, old_values = sample_values(family), sample_values(old)
        assert values.keys() == old_values.keys(), name  # every label set, le included
        for key, value in values.items():
            if not key[0].endswith(("_bucket", "_sum")):  # those depend on timing
                assert value == old_values[key], key


def test_no_route_template_misses_an_include_router_prefix(tmp_path):
    """The handler label is scope["route"].path, the APIRoute as its router declared it."""
    app = create_app(make_settings(None, tmp_path))
    contexts = [
        context
        for route in app.routes
        for context in getattr(route, "effective_route_contexts", list)()
    ]
    assert contexts
    for context in contexts:
        assert context.path == context.original_route.path
