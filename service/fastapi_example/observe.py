"""One pure-ASGI middleware per request: its id, its access log line and its HTTP metrics.

One layer, one wrapped `send` and one clock for the three (as two middlewares they cost a
hot read about 20k instructions more: benchmarks/HISTORY.md, eleventh round).
"""

from time import perf_counter

from fastapi_example.logs import access_log, clean_request_id, request_id_var
from fastapi_example.metrics import UNCOUNTED_PATHS, Metrics


class ObserveRequests:
    """Sets the request id (echoed as X-Request-ID), logs one line per request, counts and
    times it. Never logs bodies, headers or query strings (they can hold passwords and tokens).
    """

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = clean_request_id(scope["headers"])
        rid_token = request_id_var.set(request_id)
        status = 500  # no response started: the error handler outside answers 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        in_flight = self.metrics.in_flight
        in_flight.inc()
        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = perf_counter() - started
            # Before the request is counted: in flight + counted never exceeds those started.
            in_flight.dec()
            path = scope["path"]
            # The router leaves the matched route in the scope; FastAPI sets none for a mount
            # (our static files at /) nor for a 404: both are "none" in the metrics and
            # "unmatched" in the log. Its path lacks a prefix given to include_router (so
            # routes/ prefix the APIRouters).
            route = getattr(scope.get("route"), "path", None)
            if (route or path) not in UNCOUNTED_PATHS:
                self.metrics.observe_request(scope["method"], status, route or "none", seconds)
            if path not in UNCOUNTED_PATHS:
                access_log(scope, route, status, seconds)
            request_id_var.reset(rid_token)
