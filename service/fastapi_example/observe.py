"""A pure-ASGI middleware for each request's id (X-Request-ID), access log line and the
count of requests in flight. Never logs bodies, headers or query strings: they can hold
passwords and tokens."""

from time import perf_counter

from fastapi_example.logs import access_log, clean_request_id, request_id_var
from fastapi_example.metrics import UNCOUNTED_PATHS, Metrics


class RequestLog:
    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.in_flight = metrics.in_flight

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

        self.in_flight.inc()
        started = perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.in_flight.dec()
            # FastAPI leaves the matched route in the scope: none for the static files mounted
            # at / nor for a 404 ("unmatched" in the log).
            route = getattr(scope.get("route"), "path", None)
            if scope["path"] not in UNCOUNTED_PATHS:
                access_log(scope, route, status, perf_counter() - started)
            request_id_var.reset(rid_token)
