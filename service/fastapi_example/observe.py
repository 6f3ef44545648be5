"""One pure-ASGI middleware per request: its id (X-Request-ID), its access log line and its
HTTP metrics, timed once. Never logs bodies, headers or query strings: they can hold
passwords and tokens."""

from time import perf_counter

from fastapi_example.limits import SERVER_STATUS_KEY
from fastapi_example.logs import access_log, clean_request_id, request_id_var
from fastapi_example.metrics import UNCOUNTED_PATHS, Metrics


class ObserveRequests:
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
            status = scope.get(SERVER_STATUS_KEY, status)
            path = scope["path"]
            # FastAPI leaves the matched route in the scope; none for the static files mounted
            # at / nor for a 404: "none" in the metrics, as the instrumentator names them, and
            # "unmatched" in the log.
            route = getattr(scope.get("route"), "path", None)
            if (route or path) not in UNCOUNTED_PATHS:
                self.metrics.observe_request(scope["method"], status, route or "none", seconds)
            if path not in UNCOUNTED_PATHS:
                access_log(scope, route, status, seconds)
            request_id_var.reset(rid_token)
