"""A stand-in Kubernetes API server for `helm template --dry-run=server` (mock: no API server,
kind or cluster can run on this machine). It answers only what helm asks for there: version
and discovery for the chart's kinds, and GETs of the objects it was given (the "live" state,
e.g. a Secret recorded from an earlier render); every other object is 404."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# group/version -> [(kind, plural)] for the kinds the chart renders by default
RESOURCES = {
    "v1": [
        ("Secret", "secrets"),
        ("ConfigMap", "configmaps"),
        ("Service", "services"),
        ("ServiceAccount", "serviceaccounts"),
        ("Pod", "pods"),
    ],
    "apps/v1": [("Deployment", "deployments"), ("StatefulSet", "statefulsets")],
    "batch/v1": [("CronJob", "cronjobs"), ("Job", "jobs")],
    "networking.k8s.io/v1": [("Ingress", "ingresses"), ("NetworkPolicy", "networkpolicies")],
    "policy/v1": [("PodDisruptionBudget", "poddisruptionbudgets")],
    "autoscaling/v2": [("HorizontalPodAutoscaler", "horizontalpodautoscalers")],
}
PLURALS = {kind: plural for kinds in RESOURCES.values() for kind, plural in kinds}


def _discovery(path: str):
    if path == "/version":
        return {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    if path == "/apis":
        groups = [
            {
                "name": gv.split("/")[0],
                "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]},
            }
            for gv in RESOURCES
            if "/" in gv
        ]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
    gv = "v1" if path == "/api/v1" else path.removeprefix("/apis/")
    if gv in RESOURCES:
        resources = [
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": True,
                "kind": kind,
                "verbs": ["get", "list"],
            }
            for kind, plural in RESOURCES[gv]
        ]
        return {"kind": "APIResourceList", "groupVersion": gv, "resources": resources}
    return None


class FakeApiServer:
    """with FakeApiServer(objects) as server: helm ... --kubeconfig server.kubeconfig"""

    def __init__(self, objects: list[dict], folder: Path):
        self.objects = {
            (o["metadata"]["namespace"], PLURALS[o["kind"]], o["metadata"]["name"]): o
            for o in objects
        }
        self.requests: list[str] = []
        self.kubeconfig = folder / "kubeconfig"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = self.path.split("?")[0]
                server.requests.append(path)
                body = _discovery(path)
                if body is None:
                    parts = path.strip("/").split("/")  # .../namespaces/<ns>/<plural>/<name>
                    body = server.objects.get(tuple(parts[-4:][1:]) if len(parts) >= 4 else ())
                if body is None:
                    self._send(
                        404,
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "status": "Failure",
                            "reason": "NotFound",
                            "code": 404,
                        },
                    )
                else:
                    self._send(200, body)

            def _send(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.httpd.server_address[1]
        self.kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "fake",
                    "clusters": [
                        {"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}
                    ],
                    "users": [{"name": "fake", "user": {"token": "fake"}}],
                    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                }
            )
        )
        self.kubeconfig.chmod(0o600)

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
