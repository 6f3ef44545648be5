"""The monitoring component's copies match their one source (grafana-dashboards/,
prometheus/alerts.rules.yaml); `make k8s-sync` rewrites them."""

from tests.manifests import sync_monitoring


def test_component_copies_are_in_sync():
    lagging = [
        str(path.relative_to(sync_monitoring.REPO))
        for path, content in sync_monitoring.expected().items()
        if not path.exists() or path.read_text() != content
    ]
    assert lagging == [], f"run `make k8s-sync`: {lagging}"
    assert sync_monitoring.stale() == [], "run `make k8s-sync` to drop removed dashboards"


def test_every_dashboard_is_shipped():
    sources = {p.name for p in sync_monitoring.DASHBOARDS.glob("*.json")}
    copies = {p.name for p in (sync_monitoring.COMPONENT / "dashboards").glob("*.json")}
    assert sources and copies == sources
