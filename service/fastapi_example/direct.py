"""Routes whose endpoint answers from its Request (and a JSON body), called without
FastAPI's handler.

An endpoint that takes its `Request`, at most one JSON body model, and is annotated
`-> Response` leaves FastAPI's per-request handler little to do: no dependency to solve, no
parameter to read, no result to serialize. Yet that handler, with the exit stacks and the
exception wrapper FastAPI puts around it, is about 45 of the 100 µs FastAPI 0.165 spends on
a route answering a constant (benchmarks/framework.py; README.md there, twelfth round). A
DirectRoute calls such an endpoint itself; everything else about the route (matching, 405,
OpenAPI, the body and response models it documents) stays FastAPI's. An error it raises
reaches the app's own exception handlers through Starlette's ExceptionMiddleware, as it
would from the handler.

The body is read as FastAPI 0.165's handler reads a JSON body parameter, and validated by
FastAPI's own `request_body_to_args`: the same 422s, byte for byte
(tests/service/test_direct_route.py sends the same bodies both ways).
"""

import email.message
import inspect
import json
from functools import lru_cache

from fastapi import HTTPException, Request, Response, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, _get_scope_effective_route_context
from pydantic_core import PydanticUndefined as Undefined
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.types import Receive, Scope, Send


def _takes_the_request_and_a_body(dependant: Dependant) -> bool:
    return bool(
        dependant.request_param_name
        and not dependant.dependencies
        and not dependant.path_params
        and not dependant.query_params
        and not dependant.header_params
        and not dependant.cookie_params
        and len(dependant.body_params) <= 1
        and not dependant.websocket_param_name
        and not dependant.http_connection_param_name
        and not dependant.response_param_name
        and not dependant.background_tasks_param_name
        and not dependant.security_scopes_param_name
    )


@lru_cache(maxsize=64)
def _is_json(content_type: str) -> bool:
    """FastAPI's test of a body's Content-Type (application/json or application/*+json,
    parameters aside), remembered per header value: FastAPI parses the header with
    email.message on every request, and clients send one or two values."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _received_body(request: Request, strict_content_type: bool):
    """The body as FastAPI's handler gives it to a JSON body parameter: Undefined when empty,
    parsed when it is JSON (or untyped and not strict), else its bytes (which the model
    refuses); a 422 for JSON that does not parse, a 400 for a body that cannot be read."""
    try:
        body = await request.body()
        if not body:
            return Undefined
        content_type = request.headers.get("content-type")
        parse = _is_json(content_type) if content_type else not strict_content_type
        return await request.json() if parse else body
    except json.JSONDecodeError as error:
        invalid = {
            "type": "json_invalid",
            "loc": ("body", error.pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": error.msg},
        }
        raise RequestValidationError([invalid], body=error.doc) from error
    except HTTPException:
        raise
    except Exception as error:  # not UTF-8 (errors.py makes that a 422), a lost client
        unread = HTTPException(status_code=400, detail="There was an error parsing the body")
        raise unread from error


def _answers_a_response(endpoint) -> bool:
    returns = inspect.signature(endpoint).return_annotation
    return inspect.iscoroutinefunction(endpoint) and (
        inspect.isclass(returns) and issubclass(returns, Response)
    )


class DirectRoute(APIRoute):
    """An APIRoute that calls `async def endpoint(request: Request[, body: Model]) -> Response`
    itself.

    `around(handler)` is the hook for what every request of the route passes first (the
    X-Version check, the caller's token): it wraps FastAPI's handler and the direct call
    alike. A route included with dependencies of the inclusion, or under a body size limit
    (`max_body_size`), goes through FastAPI.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        body = self.dependant.body_params
        direct = (
            _takes_the_request_and_a_body(self.dependant)
            and _answers_a_response(self.endpoint)
            and not self._embed_body_fields  # one model, the whole body
            and not (body and isinstance(body[0].field_info, params.Form))
        )
        self.direct = self.around(self._with_body if body else self.endpoint) if direct else None

    async def _with_body(self, request: Request) -> Response:
        """The endpoint, given its validated body as FastAPI's handler would give it."""
        route = _get_scope_effective_route_context(request.scope) or self
        body = await _received_body(request, bool(route.strict_content_type))
        values, errors = await request_body_to_args(self.dependant.body_params, body, False)
        if errors:
            raise RequestValidationError(errors, body=None if body is Undefined else body)
        return await self.endpoint(**values, **{self.dependant.request_param_name: request})

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
        if MAX_BODY_SIZE_SCOPE_KEY in scope:  # FastAPI turns the limit's signal into a 413
            return await super().handle(scope, receive, send)
        response = await self.direct(Request(scope, receive, send))
        await response(scope, receive, send)
