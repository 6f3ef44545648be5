"""Routes whose endpoint answers from the Request alone, called without FastAPI's handler.

An endpoint that takes only its `Request` and is annotated `-> Response` leaves FastAPI's
per-request handler nothing to do: no dependency to solve, no parameter or body to read, no
result to serialize. Yet that handler, with the exit stacks and the exception wrapper
FastAPI puts around it, is about 45 of the 100 µs FastAPI 0.165 spends on a route answering
a constant (benchmarks/framework.py; README.md there, twelfth round). A DirectRoute calls
such an endpoint itself; everything else about the route (matching, 405, OpenAPI, the
response model it documents) stays FastAPI's. An error it raises reaches the app's own
exception handlers through Starlette's ExceptionMiddleware, as it would from the handler.
"""

import inspect

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _get_scope_effective_route_context
from starlette.types import Receive, Scope, Send


def _takes_only_the_request(dependant: Dependant) -> bool:
    return bool(
        dependant.request_param_name
        and not dependant.dependencies
        and not dependant.path_params
        and not dependant.query_params
        and not dependant.header_params
        and not dependant.cookie_params
        and not dependant.body_params
        and not dependant.websocket_param_name
        and not dependant.http_connection_param_name
        and not dependant.response_param_name
        and not dependant.background_tasks_param_name
        and not dependant.security_scopes_param_name
    )


def _answers_a_response(endpoint) -> bool:
    returns = inspect.signature(endpoint).return_annotation
    return inspect.iscoroutinefunction(endpoint) and (
        inspect.isclass(returns) and issubclass(returns, Response)
    )


class DirectRoute(APIRoute):
    """An APIRoute that calls an `async def endpoint(request: Request) -> Response` itself.

    `around(handler)` is the hook for what every request of the route passes first (the
    X-Version check, the caller's token): it wraps FastAPI's handler and the direct call
    alike. A route included with dependencies of the inclusion goes through FastAPI.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        direct = _takes_only_the_request(self.dependant) and _answers_a_response(self.endpoint)
        self.direct = self.around(self.endpoint) if direct else None

    def around(self, handler):
        """What answers a request: `handler` here; subclasses put their checks first."""
        return handler

    def get_route_handler(self):
        return self.around(super().get_route_handler())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.direct is None or scope["method"] not in self.methods:
            return await super().handle(scope, receive, send)  # FastAPI's, or its 405
        # The route as this inclusion made it (FastAPI 0.165's own lookup, private like it):
        # dependencies given to include_router are solved by FastAPI's handler only.
        included = _get_scope_effective_route_context(scope)
        if included is not None and included.dependant.dependencies:
            return await super().handle(scope, receive, send)
        response = await self.direct(Request(scope, receive, send))
        await response(scope, receive, send)
