"""Route parameters read as one model (params.py) against the same ones declared in FastAPI.

The list routes read their query, the id routes their path, as one pydantic model instead of
declaring each parameter (FastAPI's per-parameter cost). Each case is sent to both and must
get the same status and body: the values read, or the 422's errors. The OpenAPI parameters
must be FastAPI's too.
"""

from typing import Annotated

import pytest
from fastapi import FastAPI, Path, Query, Request
from fastapi.testclient import TestClient

from fastapi_example.errors import add_error_handlers
from fastapi_example.models import MAX_ID, Text
from fastapi_example.paging import MAX_PAGE
from fastapi_example.params import RouteParams
from fastapi_example.routes.items import ItemPath, ItemQuery
from fastapi_example.routes.users import UserQuery

# The parameters as the routes declared them before.
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=100)]
Filter = Annotated[Text | None, Query(min_length=1, max_length=100)]


def declared_app() -> FastAPI:
    app = FastAPI()
    add_error_handlers(app)

    @app.get("/items")
    async def items(
        page: Page = 1, limit: Limit = 20, name: Filter = None, description: Filter = None
    ):
        return {"page": page, "limit": limit, "name": name, "description": description}

    @app.get("/users")
    async def users(
        page: Page = 1, limit: Limit = 20, username: Filter = None, activated: bool | None = None
    ):
        return {"page": page, "limit": limit, "username": username, "activated": activated}

    @app.get("/items/{item_id}")
    async def item(item_id: Annotated[int, Path(ge=1, le=MAX_ID)]):
        return {"item_id": item_id}

    return app


def model_app() -> FastAPI:
    app = FastAPI()
    add_error_handlers(app)

    def route(params: type[RouteParams]):
        async def read(request: Request):
            return params.of(request).model_dump()

        return read

    for path, params in (
        ("/items", ItemQuery),
        ("/users", UserQuery),
        ("/items/{item_id}", ItemPath),
    ):
        app.add_api_route(path, route(params), openapi_extra=params.documented())
    return app


CASES = [
    "",
    "limit=20",
    "page=3&limit=100&name=a%25b_c&description=%C3%A9",
    f"page={MAX_PAGE}",
    f"page={MAX_PAGE + 1}",
    "page=0",
    "page=-1&limit=0",  # two errors
    "limit=101",
    "limit=abc",
    "page=1.5",
    "limit=5&limit=7",  # repeated: the last one
    "name=",
    "name=" + "x" * 101,
    "name=%00",
    "description=%ED%A0%80",  # a lone surrogate's bytes
    "unknown=1&name=x",
    "limit=",
]
USER_CASES = ["activated=true", "activated=0", "activated=maybe", "username=&activated=yes"]
ITEM_IDS = ["1", str(MAX_ID), str(MAX_ID + 1), "0", "-3", "abc", "1.5", "%20", "1e3", "07"]


@pytest.fixture(scope="module")
def clients():
    with TestClient(declared_app()) as declared, TestClient(model_app()) as model:
        yield declared, model


@pytest.mark.parametrize(
    "path",
    [f"/items?{q}" for q in CASES]
    + [f"/users?{q}" for q in CASES + USER_CASES]
    + [f"/items/{item_id}" for item_id in ITEM_IDS],
)
def test_the_same_answer_as_declared_parameters(clients, path):
    declared, model = (client.get(path) for client in clients)
    assert (model.status_code, model.json()) == (declared.status_code, declared.json())


def test_the_same_openapi_parameters_and_422(clients):
    declared, model = (client.app.openapi()["paths"] for client in clients)
    for path in ("/items", "/users", "/items/{item_id}"):
        ours, theirs = model[path]["get"], declared[path]["get"]
        assert ours["parameters"] == theirs["parameters"]
        assert ours["responses"]["422"] == theirs["responses"]["422"]
