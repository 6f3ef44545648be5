"""Objects that exist only in a cluster: the Ingress, ServiceMonitor, PrometheusRule."""

import pytest

from tests.e2e.target import Target


@pytest.mark.kind_only("Ingress, ServiceMonitor, PrometheusRule and dashboard objects")
def test_monitoring_objects_exist_when_their_crds_do(target: Target):
    assert target.cluster_objects("Ingress"), "the chart's Ingress"
    if not target.has_crd("servicemonitors.monitoring.coreos.com"):
        pytest.fail("kube-prometheus-stack is not installed: run make kind-up MONITORING=1")
    assert target.cluster_objects("ServiceMonitor")
    assert target.cluster_objects("PrometheusRule")
    # The release's own dashboards (kube-prometheus-stack ships others with the same label).
    dashboards = target.cluster_objects(
        "ConfigMap", label="grafana_dashboard=1,app.kubernetes.io/name=fastapi-example"
    )
    assert len(dashboards) >= 1
