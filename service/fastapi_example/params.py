"""Path and query parameters read as one pydantic model per route, not declared one by one.

FastAPI 0.165 spends about 6 µs per declared parameter per request, given or not: 276k of
the page's 2,300k instructions and 53k of GET /items/{id}'s 1,100k (benchmarks/HISTORY.md,
eleventh round); validating one model costs about 1 µs. A route reads its parameters with
`Model.of(request)` and documents them with `openapi_extra=Model.documented()`. A bad value
gets FastAPI's 422 with the same body, and the document shows the parameters as FastAPI
would (tests/service/test_route_params.py compares both with declared parameters).
"""

from typing import ClassVar, Self

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

# What FastAPI documents for a route that has parameters.
VALIDATION_ERROR = {
    "description": "Validation Error",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    },
}


class RouteParams(BaseModel):
    where: ClassVar[str]  # "path" or "query"

    @classmethod
    def of(cls, request: Request) -> Self:
        # As FastAPI reads them: a repeated query parameter's last value; unknown ones ignored.
        values = request.path_params if cls.where == "path" else request.query_params
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            errors = error.errors(include_url=False)
            raise RequestValidationError(
                [{**e, "loc": (cls.where, *e["loc"])} for e in errors]
            ) from None

    @classmethod
    def documented(cls) -> dict:
        """The OpenAPI parameters, as FastAPI writes declared ones (it leaves out a null
        default, as every None), and the 422."""
        schema = cls.model_json_schema()
        required = set(schema.get("required", ()))
        parameters = [
            {"name": name, "in": cls.where, "required": name in required, "schema": field}
            for name, field in schema["properties"].items()
        ]
        return {"parameters": parameters, "responses": {"422": VALIDATION_ERROR}}


class InPath(RouteParams):
    where: ClassVar[str] = "path"


class InQuery(RouteParams):
    where: ClassVar[str] = "query"
