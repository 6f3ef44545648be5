"""Prometheus metrics on their own port: HTTP requests and latencies, and the API's counters.

The HTTP families are those prometheus-fastapi-instrumentator makes (names, help, labels),
which the dashboards and alerts query; observe.ObserveRequests records them from the route
FastAPI matched (docs/decisions/0002-request-metrics-middleware.md). Each app has its own registry
(tests build many apps); the listener on METRICS_PORT starts in the lifespan, never at import.
"""

import logging
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
)

log = logging.getLogger(__name__)
UNCOUNTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Finer than the instrumentator's defaults: this API answers most requests in a few ms.
LATENCY_HIGHR_BUCKETS = (
    *(0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1),
    *(1.5, 2, 3, 5, 10, 30, 60),
)
LATENCY_LOWR_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1)


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
        # The families prometheus-fastapi-instrumentator makes (names, help, labels), with
        # the buckets the dashboards and alerts were written for.
        self.requests = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            ["method", "status", "handler"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Latency with only few buckets by handler. "
            "Made to be only used if aggregation by handler is important. ",
            ["method", "handler"],
            buckets=LATENCY_LOWR_BUCKETS,
            registry=self.registry,
        )
        self.latency_highr = Histogram(
            "http_request_duration_highr_seconds",
            "Latency with many buckets but no API specific labels. "
            "Made for more accurate percentile calculations. ",
            buckets=LATENCY_HIGHR_BUCKETS,
            registry=self.registry,
        )
        self._children: dict[tuple, tuple] = {}
        self.in_flight = Gauge(
            "fastapi_example_requests_in_flight",
            "HTTP requests the app has started and not yet answered (probes included)",
            registry=self.registry,
        )
        self._server = None

    def observe_request(self, method: str, status: int, handler: str, seconds: float) -> None:
        key = (method, status // 100, handler)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds a key: once per series
            children = self._children[key] = (
                self.requests.labels(method, f"{status // 100}xx", handler),
                self.latency.labels(method, handler),
            )
        children[0].inc()
        children[1].observe(seconds)
        self.latency_highr.observe(seconds)

    def start_server(self, host: str, port: int) -> None:
        if not port:
            return
        self._server = make_server(
            host,
            port,
            only_metrics_path(make_wsgi_app(self.registry)),
            ThreadingServer,
            handler_class=QuietHandler,
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop_server(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Through the log, not as the standard library's traceback on stderr (which would
        break the JSON lines); a scraper gone silent or away is not worth a line."""
        if not isinstance(sys.exc_info()[1], OSError):
            log.exception("metrics request failed")


class QuietHandler(WSGIRequestHandler):
    # Seconds a scrape's connection may stay silent: each holds a thread of its own, and a
    # request never finished would hold it for good.
    timeout = 10

    def log_message(self, *args) -> None:  # scrapes are not worth a log line each
        pass

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        # The standard page and status line would quote a bad request line back.
        super().send_error(code)


def only_metrics_path(metrics_app):
    """prometheus_client answers every path; this listener serves /metrics and nothing else."""

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/metrics":
            return metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]

    return app
