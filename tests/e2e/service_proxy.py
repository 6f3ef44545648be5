"""A stand-in for a Kubernetes Service in front of the local target's API containers.

There is no cluster here, so nothing else plays kube-proxy and the endpoints controller: this
proxy forwards each request to one *ready* backend, round robin, and never retries (a Service
does not either). A backend leaves the rotation when the local target says the pod is
terminating or when its readiness probe fails, exactly the two ways a pod leaves a Service's
endpoints; with no ready backend the client gets 503.
"""

import http.client
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Framing headers this proxy sets itself. A Service works at L4 and changes no header, so
# everything else (Upgrade on a 426 included) passes through untouched.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer"}


class ServiceProxy:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._backends: dict[str, tuple[str, int]] = {}
        self._ready: set[str] = set()
        self._counter = itertools.count()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "ServiceProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, name: str, host: str, port: int) -> None:
        """A new pod: known, but receives traffic only once set_ready(name, True)."""
        with self._lock:
            self._backends[name] = (host, port)

    def remove(self, name: str) -> None:
        with self._lock:
            self._backends.pop(name, None)
            self._ready.discard(name)

    def set_ready(self, name: str, ready: bool) -> None:
        with self._lock:
            if ready and name in self._backends:
                self._ready.add(name)
            else:
                self._ready.discard(name)

    def ready_backends(self) -> list[str]:
        with self._lock:
            return sorted(self._ready)

    def _pick(self) -> tuple[str, int] | None:
        with self._lock:
            ready = sorted(self._ready)
            if not ready:
                return None
            return self._backends[ready[next(self._counter) % len(ready)]]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # quiet: pytest shows failures itself
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                backend = proxy._pick()
                if backend is None:
                    self._reply(503, b'{"detail":"no ready endpoints"}')
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn = http.client.HTTPConnection(*backend, timeout=30)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                except OSError:
                    # What a client sees when a Service sends it to a dead pod.
                    self._reply(502, b'{"detail":"backend connection failed"}')
                    return
                finally:
                    conn.close()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    # send_response already wrote Server and Date.
                    if key.lower() not in HOP_BY_HOP | {"content-length", "server", "date"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _reply(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        return Handler
