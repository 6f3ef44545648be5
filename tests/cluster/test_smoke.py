"""Smoke test of the live cluster (`make cluster-up`): the control plane, the node, DNS,
probes and restarts, NetworkPolicy, the Ingress, monitoring, jobs and storage, each shown
with real objects in a namespace of its own with Pod Security `restricted` enforced."""

import json
import subprocess
from urllib.parse import quote

import httpx

from tests.cluster.conftest import (
    VERSIONS,
    container,
    fetch_from_pod,
    fetch_script,
    pod,
    web_deployment,
)
from tests.support.tools import require_tool
from tests.support.waiting import wait_until


def test_node_is_ready_and_every_pod_runs(kubectl):
    nodes = kubectl.json("get", "nodes")["items"]
    assert len(nodes) == 1
    conditions = {c["type"]: c["status"] for c in nodes[0]["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    # The add-ons' pods (local-path's short-lived helper pods, which no workload owns, aside).
    pods = [
        p
        for p in kubectl.json("get", "pods", "--all-namespaces")["items"]
        if p["metadata"]["namespace"]
        in ("kube-system", "local-path-storage", "monitoring", "traefik")
        and p["metadata"].get("ownerReferences")
    ]
    names = [p["metadata"]["name"] for p in pods]
    for expected in (
        "coredns",
        "kube-router",
        "local-path-provisioner",
        "prometheus-operator",
        "prometheus-kps",
        "traefik",
    ):
        assert any(n.startswith(expected) for n in names), f"no {expected} pod in {names}"
    not_ready = [
        p["metadata"]["name"]
        for p in pods
        if not all(c["ready"] for c in p["status"].get("containerStatuses", [{"ready": False}]))
    ]
    assert not not_ready


def test_version_is_stamped_for_kubectl_and_helm(kubectl, tmp_path):
    expected = VERSIONS["KUBERNETES_VERSION"]
    server = json.loads(kubectl("version", "-o", "json"))["serverVersion"]
    assert server["gitVersion"] == expected
    chart = tmp_path / "capabilities"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: capabilities\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: capabilities\n"
        "data:\n  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}\n"
    )
    helm = require_tool("helm", "make tools")
    done = subprocess.run(
        [helm, "install", "capabilities", str(chart), "--dry-run=server", "-n", "default"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f'kubeVersion: "{expected}"' in done.stdout


def test_rbac_answers_per_role(kubectl, namespace):
    sa = f"system:serviceaccount:{namespace}:default"

    def can(verb: str, resource: str) -> str:
        return kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, "--as", sa, check=False
        ).strip()

    assert can("list", "pods") == "no"
    kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", namespace)
    kubectl(
        "create",
        "rolebinding",
        "pod-reader",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:default",
        "-n",
        namespace,
    )
    assert can("list", "pods") == "yes"
    assert can("list", "secrets") == "no"
    assert can("delete", "pods") == "no"


def test_restricted_namespace_refuses_a_privileged_pod(kubectl, namespace):
    privileged = pod(
        "privileged",
        {"name": "c", "image": "localhost:5000/pause:x", "securityContext": {"privileged": True}},
    )
    done = kubectl.run(
        "apply", "-n", namespace, "-f", "-", check=False, input=json.dumps(privileged)
    )
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in done.stderr
    assert "privileged" in done.stderr


def test_service_account_token_reaches_the_api(kubectl, namespace, web_image):
    kubectl("create", "role", "pod-reader", "--verb=list", "--resource=pods", "-n", namespace)
    kubectl(
        "create",
        "rolebinding",
        "pod-reader",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:default",
        "-n",
        namespace,
    )
    script = f"""
import ssl, urllib.request, urllib.error
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
token = open(sa + "/token").read()
context = ssl.create_default_context(cafile=sa + "/ca.crt")
for resource in ("pods", "secrets"):
    url = "https://kubernetes.default.svc/api/v1/namespaces/{namespace}/" + resource
    request = urllib.request.Request(url, headers={{"Authorization": "Bearer " + token}})
    try:
        print(resource, urllib.request.urlopen(request, context=context, timeout=5).status)
    except urllib.error.HTTPError as e:
        print(resource, e.code)
"""
    kubectl.apply(
        pod(
            "api-client",
            container("c", web_image, command=["python3", "-c", script]),
            restartPolicy="Never",
        ),
        namespace=namespace,
    )
    wait_until(
        lambda: (
            kubectl("get", "pod", "api-client", "-n", namespace, "-o", "jsonpath={.status.phase}")
            == "Succeeded"
        ),
        "the API client pod to finish",
    )
    assert kubectl("logs", "api-client", "-n", namespace).split("\n")[:2] == [
        "pods 200",
        "secrets 403",
    ]


def test_service_name_resolves_from_another_pod(kubectl, namespace, web_image):
    kubectl.apply(*web_deployment("web", web_image, replicas=2), namespace=namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
    # `kubectl run`, as a user would, with what the restricted level asks. kube-proxy
    # programs the Service's endpoints a moment after the rollout: retry a few seconds.
    url = f"http://web.{namespace}.svc.cluster.local/"
    command = ["python3", "-c", fetch_script(url, retry_for=20)]
    overrides = {"spec": {"containers": [container("client", web_image, command=command)]}}
    kubectl(
        "run",
        "client",
        "-n",
        namespace,
        f"--image={web_image}",
        "--restart=Never",
        f"--overrides={json.dumps(overrides)}",
    )
    wait_until(
        lambda: (
            kubectl("get", "pod", "client", "-n", namespace, "-o", "jsonpath={.status.phase}")
            in ("Succeeded", "Failed")
        ),
        "the client pod to finish",
    )
    assert kubectl("logs", "client", "-n", namespace) == "hello from smoke-web\n"


def test_kubelet_runs_probes_and_restarts_containers(kubectl, namespace, web_image):
    web = {"ports": [{"containerPort": 8080}]}
    kubectl.apply(
        # Ready only once its readiness probe passes; never, on a path that does not exist.
        pod(
            "ready",
            container(
                "c",
                web_image,
                **web,
                readinessProbe={"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            ),
        ),
        pod(
            "never-ready",
            container(
                "c",
                web_image,
                **web,
                readinessProbe={"httpGet": {"path": "/missing", "port": 8080}, "periodSeconds": 1},
            ),
        ),
        # A failing liveness probe, and a process that exits: both are restarted.
        pod(
            "not-alive",
            container(
                "c",
                web_image,
                **web,
                livenessProbe={
                    "httpGet": {"path": "/missing", "port": 8080},
                    "periodSeconds": 1,
                    "failureThreshold": 1,
                },
            ),
        ),
        pod(
            "crashing", container("c", web_image, command=["python3", "-c", "raise SystemExit(3)"])
        ),
        namespace=namespace,
    )

    def status(name: str) -> dict:
        return kubectl.json("get", "pod", name, "-n", namespace)["status"]

    def ready(name: str) -> bool:
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in status(name).get("conditions", [])
        )

    wait_until(lambda: ready("ready"), "pod ready to be Ready")
    for name in ("not-alive", "crashing"):
        wait_until(
            lambda n=name: status(n).get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1,
            f"{name} to be restarted",
        )
    crashed = status("crashing")["containerStatuses"][0]
    last = crashed.get("lastState", {}).get("terminated") or crashed["state"]["terminated"]
    assert last["exitCode"] == 3
    events = kubectl(
        "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=not-alive"
    )
    assert "Liveness probe failed" in events
    assert status("never-ready")["phase"] == "Running"
    assert not ready("never-ready")


def test_network_policy_denies_and_allows(kubectl, namespace, web_image):
    kubectl.apply(*web_deployment("web", web_image), namespace=namespace)
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")
    url = f"http://web.{namespace}.svc.cluster.local/"
    before = fetch_from_pod(kubectl, namespace, "before", web_image, url, retry_for=20)
    assert before == "hello from smoke-web\n"
    kubectl.apply(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "web-from-granted"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"access": "granted"}}}],
                        "ports": [{"port": 8080}],
                    }
                ],
            },
        },
        namespace=namespace,
    )
    # The agent programs the node within seconds of the policy's creation; it rejects a
    # denied connection.
    attempt = iter(range(1000))

    def denied() -> str:
        answer = fetch_from_pod(kubectl, namespace, f"denied-{next(attempt)}", web_image, url)
        return answer if answer.startswith("ERROR") else ""

    assert "Connection refused" in wait_until(denied, "the policy to deny", timeout=90)
    # A new pod's address reaches the agent's rules a moment after the pod starts.
    allowed = fetch_from_pod(
        kubectl, namespace, "allowed", web_image, url, labels={"access": "granted"}, retry_for=30
    )
    assert allowed == "hello from smoke-web\n"


def test_ingress_routes_a_host_name_from_the_host(kubectl, namespace, web_image):
    host = f"{namespace}.localhost"
    kubectl.apply(
        *web_deployment("web", web_image),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web"},
            "spec": {
                "ingressClassName": "traefik",
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "web", "port": {"name": "http"}}
                                    },
                                }
                            ]
                        },
                    }
                ],
            },
        },
        namespace=namespace,
    )
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")

    def through_ingress():
        response = httpx.get("http://127.0.0.1/", headers={"Host": host}, timeout=5)
        return response.status_code == 200 and response.text

    assert (
        wait_until(through_ingress, "the Ingress to route", timeout=60) == "hello from smoke-web\n"
    )
    other = httpx.get("http://127.0.0.1/", headers={"Host": f"other-{host}"}, timeout=5)
    assert other.status_code == 404


def test_service_monitor_makes_prometheus_scrape(kubectl, namespace, web_image):
    kubectl.apply(
        *web_deployment("web", web_image),
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "web", "labels": {"release": "kps"}},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "5s"}],
            },
        },
        namespace=namespace,
    )

    def query(promql: str) -> list:
        path = (
            "/api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy"
            f"/api/v1/query?query={quote(promql)}"
        )
        return json.loads(kubectl("get", "--raw", path))["data"]["result"]

    up = wait_until(
        lambda: [r for r in query(f'up{{namespace="{namespace}"}}') if r["value"][1] == "1"],
        "Prometheus to scrape the target",
        timeout=180,
        every=5,
    )
    assert up[0]["metric"]["service"] == "web"
    assert query(f'smoke_up{{namespace="{namespace}"}}')[0]["value"][1] == "1"


def test_cronjob_job_runs_to_completion(kubectl, namespace, web_image):
    kubectl.apply(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "tick"},
            "spec": {
                "schedule": "0 0 1 1 *",
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 0,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    container(
                                        "tick",
                                        web_image,
                                        command=["python3", "-c", "print('tick done')"],
                                    )
                                ],
                            }
                        },
                    }
                },
            },
        },
        namespace=namespace,
    )
    kubectl("create", "job", "tick-now", "--from=cronjob/tick", "-n", namespace)
    kubectl("wait", "--for=condition=Complete", "job/tick-now", "-n", namespace, "--timeout=120s")
    assert kubectl("logs", "job/tick-now", "-n", namespace) == "tick done\n"


def test_persistent_volume_claim_is_bound_and_kept(kubectl, namespace, web_image):
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "16Mi"}}},
    }
    volume = {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}
    mount = {"volumeMounts": [{"name": "data", "mountPath": "/data"}]}

    def run(name: str, shell: str) -> str:
        kubectl.apply(
            pod(
                name,
                container("c", web_image, command=["sh", "-c", shell], **mount),
                restartPolicy="Never",
                **volume,
            ),
            namespace=namespace,
        )
        wait_until(
            lambda: (
                kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}")
                == "Succeeded"
            ),
            f"pod {name} to succeed",
        )
        return kubectl("logs", name, "-n", namespace)

    kubectl.apply(claim, namespace=namespace)
    run("writer", "echo kept > /data/file")
    phase = kubectl("get", "pvc", "data", "-n", namespace, "-o", "jsonpath={.status.phase}")
    assert phase == "Bound"
    assert run("reader", "cat /data/file") == "kept\n"
