"""DirectRoute: endpoints that answer from the Request alone are called without FastAPI's
handler, and answer exactly as they did through it."""

import json

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from fastapi_example.direct import DirectRoute

DIRECT = {
    ("GET", "/items"),
    ("GET", "/items/{item_id}"),
    ("GET", "/auth/me"),
    ("GET", "/roles"),
    ("GET", "/versions"),
    ("GET", "/users"),
    ("GET", "/users/{user_id}"),
}


def _direct_routes(app: FastAPI) -> list[DirectRoute]:
    routes = [
        context.original_route
        for included in app.routes
        for context in getattr(included, "effective_route_contexts", list)()
    ]
    return [r for r in routes if isinstance(r, DirectRoute) and r.direct is not None]


def test_the_reads_that_answer_their_own_response_are_direct(client):
    found = {(method, r.path) for r in _direct_routes(client.app) for method in r.methods}
    assert found == DIRECT


def _answers(client, headers: dict) -> list[tuple]:
    retired, unknown = {**headers, "X-Version": "0.2"}, {**headers, "X-Version": "7.7"}
    bad_token = {"Authorization": "Bearer not-a-token"}
    sent = [
        ("/items", {"limit": 3}, headers),
        ("/items", {"name": "no-such-item-name"}, headers),
        ("/items", {"limit": 0}, headers),
        ("/items", {"page": "x"}, headers),
        ("/items", {}, {}),
        ("/items", {}, bad_token),
        ("/items", {}, retired),
        ("/items/1", {}, headers),
        ("/items/999999999", {}, headers),
        ("/items/not-a-number", {}, headers),
        ("/items/1", {}, unknown),
        ("/auth/me", {}, headers),
        ("/auth/me", {}, bad_token),
        ("/auth/me", {}, retired),
        ("/roles", {}, {}),
        ("/roles", {}, unknown),
        ("/versions", {}, {}),
        ("/users", {"limit": 2}, headers),
        ("/users/1", {}, headers),
        ("/users/0", {}, headers),
    ]
    answers = []
    for path, params, sent_headers in sent:
        response = client.get(path, params=params, headers=sent_headers)
        kept = {k: v for k, v in response.headers.items() if k not in ("x-request-id", "date")}
        answers.append((path, params, response.status_code, kept, response.content))
    return answers


def test_a_direct_route_answers_as_fastapis_handler_does(client, new_account, monkeypatch):
    """Every status a direct route gives (200, 401, 404, 422, 426), byte for byte, with
    the same headers, against the same routes sent through FastAPI's handler."""
    headers = new_account().headers
    direct = _answers(client, headers)
    for route in _direct_routes(client.app):
        monkeypatch.setattr(route, "direct", None)  # FastAPI's handler, around() still applied
    assert direct == _answers(client, headers)
    assert {status for *_, status, _, _ in direct} == {200, 401, 404, 422, 426}


async def _where(request: Request) -> Response:
    # request_response() gives FastAPI's handler this exit stack; a direct call has none.
    called = "fastapi" if "fastapi_inner_astack" in request.scope else "direct"
    return Response(json.dumps({"called": called}), media_type="application/json")


def _app(**include) -> TestClient:
    router = APIRouter(route_class=DirectRoute)
    router.add_api_route("/where", _where, methods=["GET"])
    app = FastAPI()
    app.include_router(router, **include)
    return TestClient(app)


def _deny() -> None:
    raise HTTPException(status_code=403, detail="denied by the inclusion")


def test_an_inclusion_with_dependencies_goes_through_fastapi():
    assert _app().get("/where").json() == {"called": "direct"}
    assert _app(prefix="/p").get("/p/where").json() == {"called": "direct"}
    denied = _app(dependencies=[Depends(_deny)]).get("/where")
    assert (denied.status_code, denied.json()) == (403, {"detail": "denied by the inclusion"})
    # Another method than the route's: FastAPI's 405, with its Allow header.
    refused = _app().post("/where")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET")


async def _untyped(request: Request):
    return Response(b"{}")


async def _with_query(request: Request, q: int = 0) -> Response:
    return Response(b"{}")


def _sync(request: Request) -> Response:
    return Response(b"{}")


async def _noop() -> None:
    return None


@pytest.mark.parametrize(
    ("endpoint", "extra", "direct"),
    [
        (_where, {}, True),
        (_untyped, {}, False),  # not annotated -> Response: FastAPI serializes what it returns
        (_with_query, {}, False),  # a parameter to read
        (_sync, {}, False),  # FastAPI runs plain def endpoints in its threadpool
        (_where, {"dependencies": [Depends(_noop)]}, False),
    ],
)
def test_only_an_async_endpoint_of_the_request_alone_answering_a_response_is_direct(
    endpoint, extra, direct
):
    route = DirectRoute("/x", endpoint, methods=["GET"], **extra)
    assert (route.direct is not None) is direct
    answer = TestClient(FastAPI(routes=[route])).get("/x")
    assert answer.status_code == 200
