"""`helm lint --strict` and `helm template` for every ci/*-values.yaml, with Helm 4 and Helm 3."""

import json
import tarfile

import pytest
import yaml

from tests.support import helm

CI_VALUES = sorted((helm.CHART / "ci").glob("*-values.yaml"))


def test_there_are_ci_values_files():
    names = {p.name for p in CI_VALUES}
    assert {"default-values.yaml", "external-db-values.yaml", "monitoring-values.yaml"} <= names


@pytest.mark.parametrize("helm_name", helm.HELMS)
@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_lint_strict(helm_name, values):
    result = helm.run_helm(["lint", "--strict", str(helm.CHART), "-f", str(values)], helm_name)
    assert result.returncode == 0, helm.subprocess_ok(result)
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("helm_name", helm.HELMS)
@pytest.mark.parametrize("values", CI_VALUES, ids=lambda p: p.stem)
def test_template_renders(helm_name, values):
    objects = helm.render(values_files=[values], helm=helm_name)
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ConfigMap"} <= kinds
    for obj in objects:
        assert obj["metadata"]["name"], obj
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == helm.RELEASE


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_both_helms_render_the_same_objects(helm_name):
    """Helm 3 and Helm 4 agree (Secrets aside: fresh renders generate new random values)."""

    def comparable(objects):
        return [o for o in objects if o["kind"] != "Secret"]

    assert comparable(helm.render(helm=helm_name)) == comparable(helm.render(helm="helm"))


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_package_contains_the_linked_monitoring_files(helm_name, tmp_path):
    """files/dashboards and files/alerts.rules.yaml are symlinks to the top-level sources;
    helm follows them in template, lint and package (the packaged chart holds real files)."""
    result = helm.run_helm(["package", str(helm.CHART), "-d", str(tmp_path)], helm_name)
    assert result.returncode == 0, helm.subprocess_ok(result)
    (archive,) = tmp_path.glob("fastapi-example-*.tgz")
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
        dashboards = sorted(
            p.name for p in (helm.CHART.parents[1] / "grafana-dashboards").iterdir()
        )
        for name in dashboards:
            member = members[f"fastapi-example/files/dashboards/{name}"]
            assert member.isfile()
        rules = tar.extractfile(members["fastapi-example/files/alerts.rules.yaml"]).read()
    assert rules == (helm.CHART.parents[1] / "prometheus" / "alerts.rules.yaml").read_bytes()


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_notes_tell_how_to_reach_the_api_get_the_password_and_run_the_job(
    helm_name, live_namespace, tmp_path
):
    # Helm 3 asks the cluster's version even on a client dry run.
    args = ["install", helm.RELEASE, str(helm.CHART), "--dry-run=client", "-n", live_namespace]
    result = helm.run_helm(args, helm_name)
    assert result.returncode == 0, helm.subprocess_ok(result)
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "http://fastapi-example.localhost/docs" in notes
    assert "port-forward svc/fastapi-example 8080:8080" in notes
    assert "get secret fastapi-example -o jsonpath='{.data.admin-password}'" in notes
    assert "create job --from=cronjob/fastapi-example-token-cleanup" in notes
    app_version = yaml.safe_load((helm.CHART / "Chart.yaml").read_text())["appVersion"]
    assert f"fastapi-example (ghcr.io/owner/fastapi-example:{app_version}) is installed" in notes
    # https for the hosts a TLS entry names, http for the others
    paths = [{"path": "/", "pathType": "Prefix"}]
    hosts = [
        {"host": "fastapi-example.localhost", "paths": paths},
        {"host": "b.test", "paths": paths},
    ]
    tls = {"ingress": {"hosts": hosts, "tls": [{"secretName": "t", "hosts": ["b.test"]}]}}
    (tmp_path / "tls.json").write_text(json.dumps(tls))
    with_tls = helm.run_helm([*args, "-f", str(tmp_path / "tls.json")], helm_name)
    reach = with_tls.stdout.split("1. Reach the API\n", 1)[1]
    assert reach.startswith("   http://fastapi-example.localhost/docs\n   https://b.test/docs\n")
    without = helm.run_helm([*args, "--set", "ingress.enabled=false"], helm_name)
    reach = without.stdout.split("1. Reach the API\n", 1)[1]
    assert reach.startswith("   Through the Service, from your machine:"), reach


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_kube_version_floor(helm_name):
    """The chart renders for the oldest Kubernetes it claims, and refuses an older one."""
    assert helm.render(helm=helm_name, kube_version="1.30.0")
    with pytest.raises(helm.RenderError, match=r"kubeVersion|incompatible"):
        helm.render(helm=helm_name, kube_version="1.29.9")
