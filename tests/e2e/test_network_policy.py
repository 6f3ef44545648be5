"""The chart's NetworkPolicies, enforced by the cluster's policy agent: a pod without the
app's labels reaches neither MySQL nor the API; the API reaches MySQL and DNS."""

import json

from tests.e2e.release import Release
from tests.support.waiting import wait_until

# Connects to each (host, port) given as arguments; prints what happened to each, as JSON.
PROBE = """
import json, socket, sys
result = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        address = socket.gethostbyname(host)
    except OSError as error:
        result[target] = "dns: " + str(error)
        continue
    try:
        socket.create_connection((address, int(port)), timeout=5).close()
        result[target] = "connected"
    except OSError as error:
        result[target] = type(error).__name__
print(json.dumps(result))
"""


def test_a_pod_without_the_apps_labels_reaches_neither_mysql_nor_the_api(release: Release):
    mysql, api = release.service("mysql"), release.service("api")
    ports = {p["name"]: p["port"] for p in api["spec"]["ports"]}
    targets = [
        f"{mysql['metadata']['name']}:3306",
        f"{api['metadata']['name']}:{ports['http']}",
        f"{api['metadata']['name']}:{ports['metrics']}",
    ]
    name = "stranger"
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "stranger"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "probe",
                    "image": release.cluster.images.api,
                    "command": ["python3", "-c", PROBE, *targets],
                    "securityContext": security,
                }
            ],
        },
    }
    release.cluster.kubectl("apply", "-n", release.namespace, "-f", "-", input=json.dumps(pod))
    wait_until(
        lambda: (
            release.core.read_namespaced_pod(name, release.namespace).status.phase
            in ("Succeeded", "Failed")
        ),
        "the probe pod to finish",
        timeout=120,
    )
    result = json.loads(release.logs(name))
    # Names resolve (DNS is open to every pod), connections are refused.
    assert all(
        outcome in ("ConnectionRefusedError", "TimeoutError") for outcome in result.values()
    ), result


def test_the_api_reaches_mysql_and_dns(release: Release):
    mysql = release.service("mysql")["metadata"]["name"]
    (pod, *_) = release.pods(release.api(), ready_only=True)
    out = release.exec(
        pod.metadata.name, ["python3", "-c", PROBE, f"{mysql}:3306"], container="api"
    )
    assert json.loads(out) == {f"{mysql}:3306": "connected"}
