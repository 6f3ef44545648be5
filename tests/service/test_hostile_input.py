"""Bad input gets a 4xx and nothing else: bodies over the limit, bodies whose 422 could not
be rendered, hostile values in every field of every route with a body."""

import io
import json
import logging
import math

import pytest
from fastapi.testclient import TestClient

from fastapi_example.errors import ECHO_CHARACTERS, echo
from fastapi_example.logs import JsonFormatter, TextFormatter
from fastapi_example.main import create_app
from tests.service.conftest import ADMIN, unique

LIMIT = 16384  # MAX_BODY_BYTES' default, which the test app uses
SECRET = "pw-do-not-echo-0123456789"


def body_routes(client, admin_headers, new_account) -> list[tuple[str, str, dict]]:
    """(method, path, a valid body) for every route that takes a JSON body."""
    account = new_account()
    item = client.post("/items", json={"name": unique("h")}, headers=admin_headers).json()
    valid = {
        # Not the admin: its failures would throttle the admin's logins.
        ("POST", "/auth/token"): {"username": unique(), "password": SECRET},
        ("POST", "/auth/refresh"): {"refresh_token": SECRET},
        ("POST", "/users"): {"username": unique(), "password": SECRET},
        ("PATCH", "/users/{user_id}"): {"username": unique(), "password": SECRET},
        ("POST", "/items"): {"name": unique("h"), "description": SECRET},
        ("PATCH", "/items/{item_id}"): {"name": unique("h"), "description": SECRET},
    }
    found = []
    for template, operations in client.app.openapi()["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                path = template.format(user_id=account.id, item_id=item["id"])
                found.append((method.upper(), path, valid[(method.upper(), template)]))
    assert len(found) == len(valid), "a route with a body has no test body here"
    return found


def every_route(client) -> list[tuple[str, str]]:
    """Every operation of the API (ids filled in), the docs and a path nothing serves."""
    routes = [("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/not-there.png")]
    for template, operations in client.app.openapi()["paths"].items():
        for method in operations:
            routes.append((method.upper(), template.format(user_id=1, item_id=1, role_id=1)))
    assert len(routes) > 15
    return routes


def test_a_declared_length_over_the_limit_is_413_on_every_route(client, admin_headers):
    for method, path in every_route(client):
        response = client.request(
            method, path, content=b"{" + b" " * LIMIT + b"}", headers=admin_headers
        )
        assert response.status_code == 413, (method, path, response.text)
        assert response.json() == {"detail": "Request body too large"}
        assert response.headers["connection"] == "close"


def test_a_chunked_body_over_the_limit_is_413(client, admin_headers, new_account):
    for method, path, body in body_routes(client, admin_headers, new_account):
        padded = json.dumps({**body, "padding": "x" * LIMIT}).encode()

        def chunks(data=padded):
            for start in range(0, len(data), 1000):
                yield data[start : start + 1000]

        response = client.request(method, path, content=chunks(), headers=admin_headers)
        assert response.status_code == 413, (method, path, response.text)
        assert response.json() == {"detail": "Request body too large"}


def in_chunks(data: bytes):
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


def test_a_chunked_body_over_the_limit_is_413_on_routes_that_take_none(client, admin_headers):
    """A route without a body never reads one: the body is read first, whatever the route,
    so a DELETE or a logout sent with one over the limit is refused and does nothing."""
    item = client.post("/items", json={"name": unique("kept")}, headers=admin_headers).json()
    over = b"x" * (LIMIT + 1)
    for method, path in [*every_route(client), ("DELETE", f"/items/{item['id']}")]:
        response = client.request(method, path, content=in_chunks(over), headers=admin_headers)
        assert response.status_code == 413, (method, path, response.text)
        assert response.json() == {"detail": "Request body too large"}
    assert client.get(f"/items/{item['id']}", headers=admin_headers).status_code == 200
    assert client.get("/auth/me", headers=admin_headers).status_code == 200  # not logged out
    # Within the limit, a chunked body reaches the route whole.
    body = json.dumps({"name": unique("chunked")}).encode()
    headers = {**admin_headers, "content-type": "application/json"}
    created = client.post("/items", content=in_chunks(body), headers=headers)
    assert created.status_code == 201, created.text


def test_the_longest_valid_item_fits_the_default_limit(client, admin_headers):
    """Every character of the longest name and description escaped as a surrogate pair:
    the largest JSON a valid item can take."""
    tag = unique("")
    name = tag + "\U0001f642" * (100 - len(tag))
    body = json.dumps({"name": name, "description": "\U0001f642" * 1000}).encode()
    assert len(body) <= LIMIT
    created = client.post(
        "/items",
        content=body,
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert created.status_code == 201, created.text


HOSTILE_VALUES = [
    math.nan,
    math.inf,
    -math.inf,
    10**4000,
    "\ud800",
    "x\udfff" + SECRET,
    SECRET * 400,
    [SECRET],
    {"nested": SECRET},
    True,
    1.5,
]
# Values some fields take (a description may be null or empty): never a 5xx.
ODD_VALUES = [None, "", 0, -1, "\x00" + SECRET]


def hostile_bodies(body: dict):
    """The valid body with each field, in turn, set to each hostile value; then whole bodies
    that are no object at all."""
    for field in body:
        for value in HOSTILE_VALUES:
            yield True, {**body, field: value}
        for value in ODD_VALUES:
            yield False, {**body, field: value}
    for whole in ([body], SECRET, 12, None, [[[[[[[[[[]]]]]]]]]]):
        yield True, whole


def as_json(value) -> bytes:
    # Python's encoder writes NaN/Infinity (as JavaScript does) and lone surrogates.
    return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")


def test_hostile_values_in_every_field_are_4xx_and_echo_little(client, admin_headers, new_account):
    for method, path, body in body_routes(client, admin_headers, new_account):
        for invalid, hostile in hostile_bodies(body):
            response = client.request(
                method,
                path,
                content=as_json(hostile),
                headers={**admin_headers, "content-type": "application/json"},
            )
            sent = (method, path, repr(hostile)[:80], response.text[:200])
            assert response.status_code < 500, sent
            assert response.headers["content-type"] == "application/json", sent
            assert len(response.content) < 2000, sent
            if invalid:
                assert response.status_code == 422, sent
                shown = [json.dumps(e.get("input")) for e in response.json()["detail"]]
                assert all(len(text) < ECHO_CHARACTERS + 20 for text in shown), sent


def test_bodies_that_are_not_json_are_422(client):
    bodies = [
        b"[" * 8000 + b"]" * 8000,  # deeper than the JSON parser recurses
        b'{"username": 1' + b"0" * 5000 + b', "password": "x"}',  # too long to convert
        b"\xff\xfe not utf-8",
        b'{"username": "admin", "password": "x"',
        b"",
    ]
    for body in bodies:
        response = client.post(
            "/auth/token", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (body[:20], response.text)
        assert response.json()["detail"]


def test_a_422_never_shows_the_password_beside_a_wrong_field(client):
    for body in ({"username": math.nan, "password": SECRET}, {"password": SECRET}):
        response = client.post(
            "/auth/token", content=as_json(body), headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert SECRET not in response.text


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/auth/token", {"username": "admin", "password": "p" * 129}, "password"),
        ("POST", "/auth/token", {"username": "admin", "password": 12345678}, "password"),
        ("POST", "/users", {"username": "erin", "password": "hunter2"}, "password"),
        ("POST", "/users", {"username": "erin", "password": "hunter2-\x00-x"}, "password"),
        ("PATCH", "/users/1", {"current_password": "c" * 129}, "current_password"),
        ("POST", "/auth/refresh", {"refresh_token": "r" * 201}, "refresh_token"),
    ],
)
def test_a_422_never_shows_the_secret_it_refuses(client, admin_headers, method, path, body, field):
    """The wrong field itself, when it is a password or a token: its place and why, not
    its value, however much of it another field's 422 would show."""
    response = client.request(method, path, json=body, headers=admin_headers)
    assert response.status_code == 422, response.text
    (error,) = [e for e in response.json()["detail"] if e["loc"] == ["body", field]]
    assert error["input"] == "(hidden)"
    secret = str(body[field])
    assert secret[:8] not in response.text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", f"password={SECRET}&username=admin"),
        ("text/plain", f"password={SECRET}"),
        (
            "multipart/form-data; boundary=b",
            f'--b\r\nContent-Disposition: form-data; name="p"\r\n\r\n{SECRET}\r\n--b--\r\n',
        ),
    ],
)
def test_a_body_that_is_not_json_is_never_shown(client, admin_headers, content_type, body):
    """FastAPI hands a body of another content type to validation as bytes: a 422 shows
    none of it, as of a JSON object."""
    for method, path in [("POST", "/auth/token"), ("POST", "/auth/refresh"), ("POST", "/items")]:
        headers = {**admin_headers, "content-type": content_type}
        response = client.request(method, path, content=body.encode(), headers=headers)
        assert response.status_code == 422, (path, response.text)
        assert SECRET not in response.text and "password=" not in response.text, path


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, 2**80, "\udcff", "é" * 1000, {"a": 1}, [1, 2], b"\xff", object()],
)
def test_echo_is_always_json(value):
    shown = echo(value)
    text = json.dumps(shown, allow_nan=False, ensure_ascii=False)
    text.encode("utf-8")
    assert len(text) <= ECHO_CHARACTERS + 10


@pytest.mark.parametrize(
    ("username", "password"),
    [(ADMIN[0], "x" * 5000), ("a" * 5000, "x"), ("", "x"), (ADMIN[0], ""), ("é\u0000", "x")],
)
def test_docs_basic_auth_refuses_what_no_login_could_be(client, username, password):
    response = client.get("/docs", auth=(username, password))
    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_tracebacks_in_logs_carry_no_exception_messages():
    try:
        try:
            raise ValueError(f"the body was {SECRET}")
        except ValueError as inner:
            raise RuntimeError(f"while handling {SECRET}") from inner
    except RuntimeError as error:
        exc_info = (type(error), error, error.__traceback__)
    record = logging.makeLogRecord({"msg": "unhandled error", "exc_info": exc_info})
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        assert SECRET not in line
        assert "ValueError" in line and "RuntimeError" in line


def test_an_unhandled_error_logs_no_request_value(api_settings):
    app = create_app(api_settings)

    async def explode(body: dict):
        raise RuntimeError(f"failed on {body}")

    app.add_api_route("/explode", explode, methods=["POST"])
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the static mount at /
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as broken:
            response = broken.post("/explode", json={"password": SECRET})
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 500
    assert "unhandled error" in logged.getvalue()
    assert SECRET not in logged.getvalue()
