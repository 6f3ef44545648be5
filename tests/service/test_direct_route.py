"""DirectRoute: endpoints that answer from their Request (and a JSON body) are called
without FastAPI's handler, and answer exactly as they did through it."""

import json
import uuid

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel

from fastapi_example.direct import DirectRoute

DIRECT = {
    ("GET", "/items"),
    ("GET", "/items/{item_id}"),
    ("GET", "/auth/me"),
    ("GET", "/roles"),
    ("GET", "/versions"),
    ("GET", "/users"),
    ("GET", "/users/{user_id}"),
    ("POST", "/items"),
    ("PATCH", "/items/{item_id}"),
    ("POST", "/auth/refresh"),
}


def _direct_routes(app: FastAPI) -> list[DirectRoute]:
    routes = [
        context.original_route
        for included in app.routes
        for context in getattr(included, "effective_route_contexts", list)()
    ]
    return [r for r in routes if isinstance(r, DirectRoute) and r.direct is not None]


def test_the_routes_that_answer_their_own_response_are_direct(client):
    found = {(method, r.path) for r in _direct_routes(client.app) for method in r.methods}
    assert found == DIRECT


def _kept_headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k not in ("x-request-id", "date")}


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
        answers.append(
            (path, params, response.status_code, _kept_headers(response), response.content)
        )
    return answers


def _through_fastapi(client, monkeypatch) -> None:
    for route in _direct_routes(client.app):
        monkeypatch.setattr(route, "direct", None)  # FastAPI's handler, around() still applied


def test_a_direct_route_answers_as_fastapis_handler_does(client, new_account, monkeypatch):
    """Every status a direct read gives (200, 401, 404, 422, 426), byte for byte, with
    the same headers, against the same routes sent through FastAPI's handler."""
    headers = new_account().headers
    direct = _answers(client, headers)
    _through_fastapi(client, monkeypatch)
    assert direct == _answers(client, headers)
    assert {status for *_, status, _, _ in direct} == {200, 401, 404, 422, 426}


def _refused_bodies(client, owner, stranger, taken: dict) -> list[tuple]:
    """Bodies a write refuses (or a request refused before its body), each sent as is:
    status, headers and bytes. Nothing changes, so both ways must answer alike."""
    typed = {**owner.headers, "Content-Type": "application/json"}
    item = f"/items/{taken['id']}"
    as_json = {"Content-Type": "application/json"}
    sent = [
        ("POST", "/items", typed, b""),
        ("POST", "/items", owner.headers, b""),
        ("POST", "/items", typed, b"{not json"),
        ("POST", "/items", typed, b'{"name": "unterminated'),
        ("POST", "/items", typed, b'{"name": 1}'),
        ("POST", "/items", typed, b"{}"),
        ("POST", "/items", typed, b"[]"),
        ("POST", "/items", typed, b"null"),
        ("POST", "/items", typed, b'"a string"'),
        ("POST", "/items", typed, b"\xc3\x28"),  # not UTF-8
        ("POST", "/items", typed, b"\xff\xfe"),  # a UTF-16 byte order mark, then nothing
        ("POST", "/items", typed, json.dumps({"name": "x" * 101}).encode()),
        ("POST", "/items", typed, json.dumps({"name": taken["name"]}).encode()),  # 409
        ("POST", "/items", owner.headers, b'{"name": "no content type"}'),  # strict: 422
        ("POST", "/items", {**owner.headers, "Content-Type": "text/plain"}, b'{"name": "t"}'),
        ("POST", "/items", {**owner.headers, "Content-Type": "application/jsonx"}, b"{}"),
        ("POST", "/items", {**owner.headers, "Content-Type": "application"}, b"{}"),
        ("POST", "/items", {**owner.headers, "Content-Type": "multipart/form-data"}, b"{}"),
        ("POST", "/items", as_json, b'{"name": "no token"}'),  # 401 before the body
        ("POST", "/items", {**typed, "X-Version": "0.2"}, b"{not json"),  # 426 first
        ("PATCH", item, {**stranger.headers, **as_json}, b'{"description": "x"}'),  # 403
        ("PATCH", "/items/999999999", typed, b'{"description": "x"}'),  # 404
        ("PATCH", "/items/not-a-number", typed, b'{"name": 5}'),  # the body's 422 first
        ("PATCH", "/items/not-a-number", typed, b"{}"),  # then the path's
        ("PATCH", item, typed, b""),
        ("PATCH", item, typed, b'{"name": null}'),
        ("PATCH", item, typed, b'{"description": ' + b"1" * 5000 + b"}"),
        ("POST", "/auth/refresh", as_json, b'{"refresh_token": "no-such-token"}'),  # 401
        ("POST", "/auth/refresh", as_json, b'{"refresh_token": ""}'),
        ("POST", "/auth/refresh", as_json, b'{"refresh_token": 5}'),
        ("POST", "/auth/refresh", as_json, b'{"token": "misnamed"}'),
        ("POST", "/auth/refresh", {**as_json, "X-Version": "7.7"}, b"{}"),  # 426
    ]
    answers = []
    for method, path, headers, content in sent:
        response = client.request(method, path, headers=headers, content=content)
        answers.append((method, path, content, response.status_code, _kept_headers(response)))
        answers.append(response.content)
    return answers


def test_a_refused_body_is_answered_as_fastapis_handler_does(client, new_account, monkeypatch):
    """Empty, unparsable, mistyped and wrongly typed bodies of the direct writes: the same
    status, headers and bytes as through FastAPI's handler (401, 403, 404, 409, 422, 426;
    400 for a number longer than Python's JSON reads)."""
    owner, stranger = new_account(), new_account()
    taken = client.post("/items", json={"name": f"taken-{uuid.uuid4().hex}"}, headers=owner.headers)
    direct = _refused_bodies(client, owner, stranger, taken.json())
    _through_fastapi(client, monkeypatch)
    assert direct == _refused_bodies(client, owner, stranger, taken.json())
    statuses = {answer[3] for answer in direct[::2]}
    assert statuses == {400, 401, 403, 404, 409, 422, 426}


def _accepted_bodies(client, owner) -> list[tuple]:
    """Writes that succeed, with every JSON Content-Type FastAPI parses: their status,
    headers (but the length: ids and tokens differ) and the fields they answer."""
    answers = []
    for content_type in ("application/json", "APPLICATION/JSON", "application/json; charset=utf-8",
                         "application/vnd.example+json", " application/json "):  # fmt: skip
        name = f"accepted-{uuid.uuid4().hex}"
        headers = {**owner.headers, "Content-Type": content_type}
        body = json.dumps({"name": name, "description": "d"}).encode()
        created = client.post("/items", headers=headers, content=body)
        path = f"/items/{created.json()['id']}"
        changed = client.patch(path, headers=headers, content=b'{"description": null}')
        refreshed = client.post(
            "/auth/refresh", headers={"Content-Type": content_type},
            content=json.dumps({"refresh_token": owner.tokens["refresh_token"]}).encode(),
        )  # fmt: skip
        owner.tokens = refreshed.json()
        owner.headers = {"Authorization": f"Bearer {owner.tokens['access_token']}"}
        for response in (created, changed, refreshed):
            kept = {k: v for k, v in _kept_headers(response).items() if k != "content-length"}
            answers.append((content_type, response.status_code, kept, sorted(response.json())))
        answers.append((created.json()["name"] == name, changed.json()["description"]))
    return answers


def test_an_accepted_body_is_answered_as_fastapis_handler_does(client, new_account, monkeypatch):
    owner = new_account()
    direct = _accepted_bodies(client, owner)
    _through_fastapi(client, monkeypatch)
    assert direct == _accepted_bodies(client, owner)
    assert {answer[1] for answer in direct if len(answer) == 4} == {200, 201}


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


class _Named(BaseModel):
    name: str


async def _named(body: _Named, request: Request) -> Response:
    called = "fastapi" if "fastapi_inner_astack" in request.scope else "direct"
    return Response(json.dumps({"called": called, "name": body.name}))


@pytest.mark.parametrize("strict", [True, False])
def test_a_body_without_content_type_follows_the_routers_strictness(strict):
    """strict_content_type=False (set on the router) parses a body sent without a
    Content-Type as JSON, as FastAPI's handler does; under a body size limit the route goes
    through FastAPI's handler (its 413)."""
    router = APIRouter(route_class=DirectRoute, strict_content_type=strict)
    router.add_api_route("/named", _named, methods=["POST"])
    app = FastAPI()
    app.include_router(router)
    untyped = TestClient(app).post("/named", content=b'{"name": "n"}')
    if strict:
        assert untyped.status_code == 422
        assert untyped.json()["detail"][0]["type"] == "model_attributes_type"
    else:
        assert (untyped.status_code, untyped.json()) == (200, {"called": "direct", "name": "n"})
    limited = FastAPI(max_body_size=64)
    limited.include_router(router)
    too_large = TestClient(limited).post("/named", json={"name": "n" * 100})
    assert too_large.status_code == 413
    fits = TestClient(limited).post("/named", json={"name": "n"})
    assert fits.json() == {"called": "fastapi", "name": "n"}


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
