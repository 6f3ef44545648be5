"""Every route x every kind of caller -> the expected status."""

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session

from fastapi_example.db import make_engine
from fastapi_example.models import Token, utcnow
from fastapi_example.security import token_digest
from tests.service.conftest import unique

CALLERS = ["anonymous", "user", "owner", "other", "admin", "disabled", "expired", "garbage"]
LOGGED_OUT = {"anonymous": 401, "disabled": 401, "expired": 401, "garbage": 401}
ANY_USER = {"user": 200, "owner": 200, "other": 200, "admin": 200}


def expect(**statuses) -> dict[str, int]:
    table = {**LOGGED_OUT, **statuses}
    assert set(table) == set(CALLERS)
    return table


# route -> (how to build the request for a fresh owner and resource, expected statuses)
def _item(client, owner):
    name = unique("mx")
    return client.post("/items", json={"name": name}, headers=owner.headers).json()["id"]


ROUTES = {
    "GET /auth/me": (lambda c, o: ("GET", "/auth/me", None), expect(**ANY_USER)),
    "POST /auth/logout": (
        lambda c, o: ("POST", "/auth/logout", None),
        expect(user=204, owner=204, other=204, admin=204),
    ),
    "POST /users": (
        lambda c, o: ("POST", "/users", {"username": unique()}),
        expect(user=403, owner=403, other=403, admin=201),
    ),
    "GET /users": (lambda c, o: ("GET", "/users", None), expect(**ANY_USER)),
    "GET /users/{id}": (lambda c, o: ("GET", f"/users/{o.id}", None), expect(**ANY_USER)),
    "PATCH /users/{id}": (
        lambda c, o: ("PATCH", f"/users/{o.id}", {"username": unique()}),
        expect(user=403, owner=200, other=403, admin=200),
    ),
    "DELETE /users/{id}": (
        lambda c, o: ("DELETE", f"/users/{o.id}", None),
        expect(user=403, owner=204, other=403, admin=204),
    ),
    "POST /items": (
        lambda c, o: ("POST", "/items", {"name": unique("mx")}),
        expect(user=201, owner=201, other=201, admin=201),
    ),
    "GET /items": (lambda c, o: ("GET", "/items", None), expect(**ANY_USER)),
    "GET /items/{id}": (lambda c, o: ("GET", f"/items/{_item(c, o)}", None), expect(**ANY_USER)),
    "PATCH /items/{id}": (
        lambda c, o: ("PATCH", f"/items/{_item(c, o)}", {"description": "x"}),
        expect(user=403, owner=200, other=403, admin=200),
    ),
    "DELETE /items/{id}": (
        lambda c, o: ("DELETE", f"/items/{_item(c, o)}", None),
        expect(user=403, owner=204, other=403, admin=204),
    ),
    # Public routes answer everyone the same, whatever Authorization says.
    "GET /roles": (lambda c, o: ("GET", "/roles", None), dict.fromkeys(CALLERS, 200)),
    "GET /roles/{id}": (lambda c, o: ("GET", "/roles/1", None), dict.fromkeys(CALLERS, 200)),
    "GET /versions": (lambda c, o: ("GET", "/versions", None), dict.fromkeys(CALLERS, 200)),
}


@pytest.fixture(scope="module")
def callers(client, admin_session, api_settings):
    """Headers for the callers that do not depend on the resource."""
    from tests.service.conftest import Account, live_admin_headers

    admin_headers = live_admin_headers(client, admin_session)

    def account(role_id: int = 2):
        return Account(client, live_admin_headers(client, admin_session), role_id)

    disabled, expired = account(), account()
    assert client.delete(f"/users/{disabled.id}", headers=admin_headers).status_code == 204
    engine = make_engine(api_settings)
    with Session(engine) as db:
        digest = token_digest(expired.tokens["access_token"])
        db.exec(
            update(Token)
            .where(Token.access_token_hash == digest)
            .values(access_expires_at=utcnow() - timedelta(seconds=1))
        )
        db.commit()
    engine.dispose()
    return {
        "anonymous": {},
        "disabled": disabled.headers,
        "expired": expired.headers,
        "garbage": {"Authorization": "Bearer " + "x" * 64},
        "new_account": account,
    }


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", list(ROUTES))
def test_authorization(client, callers, route, caller):
    build, expected = ROUTES[route]
    owner = callers["new_account"]()  # fresh: DELETE and logout must not spoil other cases
    method, path, body = build(client, owner)
    if caller in ("user", "other"):
        headers = callers["new_account"]().headers
    elif caller == "owner":
        headers = owner.headers
    elif caller == "admin":
        headers = callers["new_account"](role_id=1).headers
    else:
        headers = callers[caller]
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == expected[caller], response.text
    assert response.status_code == 204 or response.headers["content-type"] == "application/json"
    if response.status_code == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_the_token_is_checked_before_the_request_is_read(client, new_account):
    """401 for a request without a valid token, whatever its path, query or body; 403 for a
    caller who is not an admin before POST /users reads its body."""
    bad_json = {"content": b"{not json", "headers": {"Content-Type": "application/json"}}
    for method, path, options in (
        ("GET", "/items/not-a-number", {}),
        ("GET", "/items", {"params": {"limit": 0}}),
        ("POST", "/items", bad_json),
        ("PATCH", "/users/0", {"json": {"username": ""}}),
        ("POST", "/auth/logout", bad_json),
    ):
        response = client.request(method, path, **options)
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
    user = new_account()
    not_json = {"content": bad_json["content"], "headers": bad_json["headers"] | user.headers}
    for options in ({"json": {"username": ""}, "headers": user.headers}, not_json):
        refused = client.post("/users", **options)
        assert refused.status_code == 403, refused.text
