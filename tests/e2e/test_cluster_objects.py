"""Objects that exist only in a cluster: the Ingress, the dashboard ConfigMaps, and the
ServiceMonitor and PrometheusRule when kube-prometheus-stack's CRDs are installed."""

import pytest

from tests.e2e.target import Target
from tests.support.tools import missing


@pytest.mark.kind_only("Ingress, ServiceMonitor, PrometheusRule and dashboard objects")
def test_ingress_dashboards_and_monitoring_objects_exist(target: Target):
    assert target.cluster_objects("Ingress"), "the chart's Ingress"
    # The release's own dashboards (kube-prometheus-stack ships others with the same label).
    dashboards = target.cluster_objects(
        "ConfigMap", label="grafana_dashboard=1,app.kubernetes.io/name=fastapi-example"
    )
    assert len(dashboards) >= 1
    if not target.has_crd("servicemonitors.monitoring.coreos.com"):
        missing("kube-prometheus-stack's CRDs are not installed: make kind-up MONITORING=1")
    assert target.cluster_objects("ServiceMonitor")
    assert target.cluster_objects("PrometheusRule")
