"""Prometheus metrics: the instrumentator's defaults plus the API's own counters.

Each app gets its own registry (tests build many apps); the listener on METRICS_PORT is
started in the lifespan, never at import.
"""

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_fastapi_instrumentator import Instrumentator

UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: they double the scrape for nothing
        self.registry = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.logins = Counter(
            "fastapi_example_logins",
            "Login attempts by outcome (success, failure, throttled)",
            ["outcome"],
            registry=self.registry,
        )
        self.version_rejections = Counter(
            "fastapi_example_version_rejections",
            "Requests refused with 426 by X-Version, by reason (unknown, unsupported)",
            ["reason"],
            registry=self.registry,
        )
        for outcome in ("success", "failure", "throttled"):
            self.logins.labels(outcome)
        for reason in ("unknown", "unsupported"):
            self.version_rejections.labels(reason)
        self._server = None

    def instrument(self, app) -> None:
        Instrumentator(
            should_group_status_codes=True,
            excluded_handlers=[f"^{path}$" for path in UNCOUNTED_PATHS],
            registry=self.registry,
        ).instrument(
            app,
            # Finer than the defaults: this API answers most requests in a few milliseconds.
            latency_highr_buckets=(
                0.001,
                0.0025,
                0.005,
                0.0075,
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.25,
                0.5,
                0.75,
                1,
                1.5,
                2,
                3,
                5,
                10,
                30,
                60,
            ),
            latency_lowr_buckets=(0.005, 0.025, 0.1, 0.5, 1),
        )

    def start_server(self, host: str, port: int) -> None:
        if not port:
            return
        self._server = make_server(
            host,
            port,
            _only_metrics_path(make_wsgi_app(self.registry)),
            _ThreadingServer,
            handler_class=_QuietHandler,
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:  # scrapes are not worth a log line each
        pass


def _only_metrics_path(metrics_app):
    """prometheus_client answers every path; this listener serves /metrics and nothing else."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/metrics":
            return metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]

    return app
