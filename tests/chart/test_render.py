"""Behaviour of the rendered chart: labels and selectors, security, images, secrets, config."""

import json
import shutil

import pytest
import yaml

from tests.support import helm

EXISTING = helm.CHART / "ci" / "existing-secrets-values.yaml"
EXTERNAL = helm.CHART / "ci" / "external-db-values.yaml"
EVERYTHING = {
    "autoscaling": {"enabled": True},
    "httpRoute": {"enabled": True},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
}


CLUSTER_DNS = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


@pytest.fixture(scope="module")
def objects():
    return helm.render(values=EVERYTHING)


def workloads(objects):
    return [o for o in objects if o["kind"] in {"Deployment", "StatefulSet", "CronJob", "Pod"}]


def pod_labels(obj):
    if obj["kind"] == "Pod":
        return obj["metadata"]["labels"]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return obj["spec"]["template"]["metadata"]["labels"]


def all_containers(obj):
    spec = helm.pod_spec(obj)
    return spec.get("initContainers", []) + spec["containers"]


def selects(selector: dict, labels: dict) -> bool:
    """matchLabels and matchExpressions (In) against a label set."""
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def selected(selector: dict, objects) -> set[str]:
    return {o["metadata"]["name"] for o in workloads(objects) if selects(selector, pod_labels(o))}


def test_labels_and_selectors_agree(objects):
    deploy = helm.find(objects, "Deployment")
    mysql = helm.find(objects, "StatefulSet")
    api, db = deploy["metadata"]["name"], mysql["metadata"]["name"]
    for obj in (deploy, mysql):
        assert selects(obj["spec"]["selector"], pod_labels(obj))
        assert selected(obj["spec"]["selector"], objects) == {obj["metadata"]["name"]}
    services = {s["metadata"]["name"]: s for s in helm.find_all(objects, "Service")}
    assert selected({"matchLabels": services[api]["spec"]["selector"]}, objects) == {api}
    for name in (db, f"{db}-headless"):
        assert selected({"matchLabels": services[name]["spec"]["selector"]}, objects) == {db}
    assert mysql["spec"]["serviceName"] == f"{db}-headless"
    pdb = helm.find(objects, "PodDisruptionBudget")
    assert selected(pdb["spec"]["selector"], objects) == {api}
    hpa = helm.find(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": api,
    }
    assert "replicas" not in deploy["spec"]  # the HPA owns it
    sm = helm.find(objects, "ServiceMonitor")
    assert [
        s for s in services.values() if selects(sm["spec"]["selector"], s["metadata"]["labels"])
    ] == [services[api]]
    ingress = helm.find(objects, "Ingress")
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend == {"name": api, "port": {"name": "http"}}
    route = helm.find(objects, "HTTPRoute")
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": api, "port": 8080}]
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "fastapi-example"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"


def test_service_ports_lead_to_named_container_ports(objects):
    deploy = helm.find(objects, "Deployment")
    (api,) = helm.pod_spec(deploy)["containers"]
    container_ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert container_ports == {"http": 8080, "metrics": 8000}
    service = helm.find(objects, "Service", deploy["metadata"]["name"])
    assert {p["name"]: p["targetPort"] for p in service["spec"]["ports"]} == {
        "http": "http",
        "metrics": "metrics",
    }
    config = helm.find(objects, "ConfigMap", deploy["metadata"]["name"])["data"]
    assert (config["PORT"], config["METRICS_PORT"]) == ("8080", "8000")


def test_network_policies_select_the_intended_pods(objects):
    policies = {p["metadata"]["name"]: p for p in helm.find_all(objects, "NetworkPolicy")}
    api = helm.find(objects, "Deployment")["metadata"]["name"]
    db = helm.find(objects, "StatefulSet")["metadata"]["name"]
    job = helm.find(objects, "CronJob")["metadata"]["name"]
    test = helm.find(objects, "Pod")["metadata"]["name"]
    assert selected(policies[api]["spec"]["podSelector"], objects) == {api}
    assert selected(policies[f"{api}-jobs"]["spec"]["podSelector"], objects) == {job, test}
    assert selected(policies[db]["spec"]["podSelector"], objects) == {db}
    # MySQL: from the API pods (with the migrate initContainer) and the CronJob's pods only.
    (rule,) = policies[db]["spec"]["ingress"]
    (peer,) = rule["from"]
    assert selected(peer["podSelector"], objects) == {api, job}
    assert rule["ports"] == [{"port": "mysql"}]
    # The API: http from the ingress controller (and the helm test), metrics from Prometheus.
    http, metrics = policies[api]["spec"]["ingress"]
    assert http["ports"] == [{"port": "http"}] and metrics["ports"] == [{"port": "metrics"}]
    assert http["from"][0]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "traefik"}
    }
    assert selected(http["from"][1]["podSelector"], objects) == {test}
    assert metrics["from"][0]["podSelector"] == {
        "matchLabels": {"app.kubernetes.io/name": "prometheus"}
    }
    # Egress of the app's pods: DNS to the cluster DNS's pods, and MySQL.
    for name in (api, f"{api}-jobs"):
        dns, mysql = policies[name]["spec"]["egress"][:2]
        assert {p["port"] for p in dns["ports"]} == {53}
        assert dns["to"] == [CLUSTER_DNS]
        assert selected(mysql["to"][0]["podSelector"], objects) == {db}


def test_dns_may_go_to_any_address_when_asked():
    objects = helm.render(values={"networkPolicy": {"dns": {"anyAddress": True}}})
    for policy in helm.find_all(objects, "NetworkPolicy"):
        for rule in policy["spec"].get("egress", []):
            if {p["port"] for p in rule["ports"]} == {53}:
                assert "to" not in rule


def test_every_container_has_resources_and_the_restricted_security_context(objects):
    checked = 0
    for obj in workloads(objects):
        spec = helm.pod_spec(obj)
        pod_context = spec["securityContext"]
        assert spec["automountServiceAccountToken"] is False, obj["metadata"]["name"]
        assert pod_context["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod_context["runAsNonRoot"] is True and pod_context["runAsUser"] > 0
        for container in all_containers(obj):
            where = f"{obj['kind']}/{container['name']}"
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][part]), where
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert not context.get("privileged"), where
            checked += 1
    assert checked == 5  # migrate, api, mysql, token-cleanup, helm test
    sa = helm.find(objects, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False


def test_the_api_user_is_the_images_and_tmp_is_the_only_writable_path(objects):
    deploy = helm.find(objects, "Deployment")
    spec = helm.pod_spec(deploy)
    assert spec["securityContext"]["runAsUser"] == 10001
    volumes = {v["name"]: v for v in spec["volumes"]}
    for container in all_containers(deploy):
        writable = [m for m in container["volumeMounts"] if not m.get("readOnly")]
        assert [m["mountPath"] for m in writable] == ["/tmp"]
        assert "emptyDir" in volumes[writable[0]["name"]]


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "values, expected",
    [
        # The published image: the release registry, the chart's appVersion.
        ({}, "ghcr.io/owner/fastapi-example:1.0.0"),
        (
            {"image": {"registry": "registry.example.com/team"}},
            "registry.example.com/team/fastapi-example:1.0.0",
        ),
        (
            {"image": {"tag": "1.2.3", "digest": DIGEST}},
            f"ghcr.io/owner/fastapi-example:1.2.3@{DIGEST}",
        ),
        # A repository naming its own registry (make deploy, skaffold, Tilt) is used as it is.
        ({"image": {"repository": "r.example/fe", "tag": "2.0"}}, "r.example/fe:2.0"),
        ({"image": {"repository": "localhost:5000/fe", "tag": "dev-1"}}, "localhost:5000/fe:dev-1"),
        ({"image": {"repository": "localhost/fe", "tag": "t"}}, "localhost/fe:t"),
        # No registry: the name alone (an image loaded into kind's nodes).
        ({"image": {"registry": "", "tag": "dev"}}, "fastapi-example:dev"),
        ({"image": {"repository": "team/fe", "tag": "2"}}, "ghcr.io/owner/team/fe:2"),
    ],
)
def test_cronjob_initcontainer_and_test_pod_run_the_deployments_image(values, expected):
    objects = helm.render(values=values)
    (api,) = helm.pod_spec(helm.find(objects, "Deployment"))["containers"]
    assert api["image"] == expected
    (migrate,) = helm.pod_spec(helm.find(objects, "Deployment"))["initContainers"]
    (job,) = helm.pod_spec(helm.find(objects, "CronJob"))["containers"]
    (test,) = helm.pod_spec(helm.find(objects, "Pod"))["containers"]
    for container in (migrate, job, test):
        assert (container["image"], container["imagePullPolicy"]) == (
            api["image"],
            api["imagePullPolicy"],
        )
    assert migrate["args"] == ["migrate"] and api["args"] == ["serve"]
    assert job["command"] == ["python3", "-m", "cronjobs.token_cleanup"]
    assert migrate["envFrom"] == api["envFrom"] == job["envFrom"]
    # The first admin's password is migrate's alone: the API and the job never hold it.
    assert api["env"] == job["env"] == [e for e in migrate["env"] if e["name"] != "ADMIN_PASSWORD"]
    assert [e["name"] for e in migrate["env"]].count("ADMIN_PASSWORD") == 1


def test_probes_and_graceful_shutdown(objects):
    deploy = helm.find(objects, "Deployment")
    spec = helm.pod_spec(deploy)
    (api,) = spec["containers"]
    for probe, path in (
        ("startup", "/healthz"),
        ("liveness", "/healthz"),
        ("readiness", "/readyz"),
    ):
        assert api[f"{probe}Probe"]["httpGet"] == {"path": path, "port": "http"}
    config = helm.find(objects, "ConfigMap", deploy["metadata"]["name"])["data"]
    pre_stop = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop > 0
    assert (
        pre_stop + int(config["GRACEFUL_SHUTDOWN_SECONDS"]) < spec["terminationGracePeriodSeconds"]
    )
    assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_cronjob_settings_come_from_values():
    objects = helm.render(
        values={"tokenCleanup": {"schedule": "*/5 * * * *", "batchSize": 77, "pauseRatio": 0.5}}
    )
    cron = helm.find(objects, "CronJob")
    assert cron["spec"]["schedule"] == "*/5 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["successfulJobsHistoryLimit"] <= 3
    assert cron["spec"]["failedJobsHistoryLimit"] <= 3
    job = cron["spec"]["jobTemplate"]["spec"]
    assert (
        job["ttlSecondsAfterFinished"] > 0 and job["template"]["spec"]["restartPolicy"] == "Never"
    )
    config = helm.find(objects, "ConfigMap", helm.RELEASE)["data"]
    assert config["TOKEN_CLEANUP_BATCH_SIZE"] == "77"
    assert config["TOKEN_CLEANUP_PAUSE_RATIO"] == "0.5"
    assert not helm.find_all(helm.render(values={"tokenCleanup": {"enabled": False}}), "CronJob")


def test_versions_seed_is_rendered_mounted_and_rolls_the_pods():
    versions = [{"version": "2.0", "supported": True}, {"version": "1.0", "supported": False}]
    before = helm.render()
    after = helm.render(values={"versions": versions})
    seed = helm.find(after, "ConfigMap", f"{helm.RELEASE}-versions")["data"]["versions.json"]
    assert json.loads(seed) == versions
    default = helm.find(before, "ConfigMap", f"{helm.RELEASE}-versions")["data"]["versions.json"]
    assert json.loads(default) == helm.chart_values()["versions"]
    deploy = helm.find(after, "Deployment")
    config = helm.find(after, "ConfigMap", helm.RELEASE)["data"]
    volume = next(v for v in helm.pod_spec(deploy)["volumes"] if "configMap" in v)
    assert volume["configMap"]["name"] == f"{helm.RELEASE}-versions"
    for container in all_containers(deploy):
        mount = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
        assert config["VERSIONS_FILE"] == f"{mount['mountPath']}/versions.json"

    def annotations(objects):
        return helm.find(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"]

    assert annotations(before)["checksum/versions"] != annotations(after)["checksum/versions"]
    assert annotations(before)["checksum/config"] == annotations(after)["checksum/config"]
    changed = helm.render(values={"config": {"logLevel": "DEBUG"}})
    assert annotations(before)["checksum/config"] != annotations(changed)["checksum/config"]


def test_settings_and_database_wiring(objects):
    config = helm.find(objects, "ConfigMap", helm.RELEASE)["data"]
    db = helm.find(objects, "StatefulSet")["metadata"]["name"]
    assert config["ENVIRONMENT"] == "production"
    assert (config["DB_HOST"], config["DB_PORT"]) == (db, "3306")
    assert (config["DB_NAME"], config["DB_USER"]) == ("fastapi_example", "fastapi_example")
    assert config["ADMIN_USERNAME"] == "admin"
    (migrate,) = helm.pod_spec(helm.find(objects, "Deployment"))["initContainers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in migrate["env"]}
    assert refs["DB_PASSWORD"] == {"name": db, "key": "mysql-password"}
    assert refs["ADMIN_PASSWORD"] == {"name": helm.RELEASE, "key": "admin-password"}
    assert refs["PASSWORD_PEPPER"] == {"name": helm.RELEASE, "key": "password-pepper"}
    mysql = helm.pod_spec(helm.find(objects, "StatefulSet"))["containers"][0]
    assert mysql["image"] == "mysql:8.4"
    mysql_env = {e["name"]: e for e in mysql["env"]}
    assert mysql_env["MYSQL_PASSWORD"]["valueFrom"]["secretKeyRef"] == refs["DB_PASSWORD"]
    assert mysql_env["MYSQL_DATABASE"]["value"] == config["DB_NAME"]
    assert mysql_env["MYSQL_USER"]["value"] == config["DB_USER"]


def test_large_integers_from_a_values_file_stay_integers():
    # Helm reads a values file's numbers as floats, which it would print as 1.048576e+06.
    big = {"maxBodyBytes": 1048576, "maxHeaderBytes": 2097152, "dbPoolSize": 1000000}
    objects = helm.render(values={"config": big, "tokenCleanup": {"batchSize": 5000000}})
    config = helm.find(objects, "ConfigMap", helm.RELEASE)["data"]
    assert (config["MAX_BODY_BYTES"], config["MAX_HEADER_BYTES"]) == ("1048576", "2097152")
    assert (config["DB_POOL_SIZE"], config["TOKEN_CLEANUP_BATCH_SIZE"]) == ("1000000", "5000000")
    text = helm.render_text(
        values={
            "config": {"maxBodyBytes": 10485760},
            "ingress": {"enabled": True, "traefikBodyLimit": True},
            "tokenCleanup": {"ttlSecondsAfterFinished": 1209600},
            "terminationGracePeriodSeconds": 2000000,
            "preStopSeconds": 1000000,
        }
    )
    assert "e+0" not in text
    for line in (
        "maxRequestBodyBytes: 10485760",
        "ttlSecondsAfterFinished: 1209600",
        "terminationGracePeriodSeconds: 2000000",
        "seconds: 1000000",
    ):
        assert line in text


def test_a_new_chart_version_leaves_the_database_pod_as_it_is(tmp_path):
    chart = tmp_path / "fastapi-example"
    shutil.copytree(helm.CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta.update(version="9.9.9", appVersion="9.9.9")
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
    before = helm.find(helm.render(), "StatefulSet")["spec"]["template"]
    after = helm.find(helm.render(chart=chart), "StatefulSet")["spec"]["template"]
    assert after == before  # an upgrade of the API does not restart MySQL


def test_no_secret_value_lands_in_a_configmap_or_an_env_literal(objects):
    secrets = [v for s in helm.find_all(objects, "Secret") for v in helm.secret_data(s).values()]
    assert len(secrets) == 4 and all(len(v) >= 24 for v in secrets)
    text = json.dumps([o for o in objects if o["kind"] != "Secret"])
    for value in secrets:
        assert value not in text
    for obj in workloads(objects):
        for container in all_containers(obj):
            for env in container.get("env", []):
                if any(word in env["name"] for word in ("PASSWORD", "PEPPER", "SECRET", "TOKEN")):
                    assert "secretKeyRef" in env.get("valueFrom", {}), env


def test_existing_secrets_remove_the_charts_secrets():
    objects = helm.render(values_files=[EXISTING])
    assert helm.find_all(objects, "Secret") == []
    (migrate,) = helm.pod_spec(helm.find(objects, "Deployment"))["initContainers"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in migrate["env"]}
    assert refs == {
        "DB_PASSWORD": "fastapi-example-mysql-auth",
        "ADMIN_PASSWORD": "fastapi-example-auth",
        "PASSWORD_PEPPER": "fastapi-example-auth",
    }
    mysql = helm.pod_spec(helm.find(objects, "StatefulSet"))["containers"][0]
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in mysql["env"] if "valueFrom" in e} == {
        "fastapi-example-mysql-auth"
    }
    config = helm.find(objects, "ConfigMap", helm.RELEASE)["data"]
    assert config["ADMIN_USERNAME"] == "root-admin"


def test_external_database_replaces_mysql():
    objects = helm.render(values_files=[EXTERNAL])
    kinds = [o["kind"] for o in objects]
    assert "StatefulSet" not in kinds
    assert [s["metadata"]["name"] for s in helm.find_all(objects, "Secret")] == [helm.RELEASE]
    assert all("mysql" not in s["metadata"]["name"] for s in helm.find_all(objects, "Service"))
    config = helm.find(objects, "ConfigMap", helm.RELEASE)["data"]
    assert config["DB_HOST"] == "mysql.databases.svc.cluster.local"
    (api,) = helm.pod_spec(helm.find(objects, "Deployment"))["containers"]
    ref = next(e for e in api["env"] if e["name"] == "DB_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "fastapi-example-db", "key": "password"}
    policy = helm.find(objects, "NetworkPolicy", helm.RELEASE)
    assert {"ports": [{"port": 3306}]} in policy["spec"]["egress"]


def test_ingress_takes_its_values():
    objects = helm.render(values_files=[helm.CHART / "ci" / "production-values.yaml"])
    ingress = helm.find(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["api.example.com"], "secretName": "api-example-com-tls"}
    ]
    assert ingress["spec"]["rules"][0]["host"] == "api.example.com"
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    pvc = helm.find(objects, "StatefulSet")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert pvc["storageClassName"] == "fast-ssd"
    assert pvc["resources"]["requests"]["storage"] == "50Gi"
    assert helm.find(objects, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 2,
        "selector": helm.find(objects, "Deployment")["spec"]["selector"],
    }
    minimal = helm.render(values_files=[helm.CHART / "ci" / "minimal-values.yaml"])
    assert not {"Ingress", "CronJob", "NetworkPolicy", "PodDisruptionBudget", "ServiceAccount"} & {
        o["kind"] for o in minimal
    }
    assert helm.pod_spec(helm.find(minimal, "Deployment"))["serviceAccountName"] == "default"


def test_every_pod_pulls_with_the_image_pull_secrets():
    pull = [{"name": "regcred"}]
    objects = helm.render(values={**EVERYTHING, "imagePullSecrets": pull})
    assert {o["kind"] for o in workloads(objects)} == {
        "Deployment",
        "StatefulSet",
        "CronJob",
        "Pod",
    }
    for obj in workloads(objects):
        assert helm.pod_spec(obj)["imagePullSecrets"] == pull, obj["metadata"]["name"]


def test_pre_stop_seconds_zero_leaves_out_the_hook():
    """Kubernetes before 1.33 refuses a preStop sleep of 0 seconds."""
    (api,) = helm.pod_spec(helm.find(helm.render(values={"preStopSeconds": 0}), "Deployment"))[
        "containers"
    ]
    assert "lifecycle" not in api
