"""Accounts: your own password needs your current one, the last active admin stays, token
responses are not cached; and the spot checks of issue 25 (each test fails if the API
ignores a refresh token's expiry, keeps a reset user's sessions, counts expired sessions
toward the cap, or accepts the token of a user disabled in the database)."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from fastapi_example.data import users as users_data
from fastapi_example.db import make_engine
from fastapi_example.main import create_app
from fastapi_example.models import utcnow
from fastapi_example.security import token_digest
from tests.service.conftest import ADMIN, bearer, login, make_settings, migrated, unique
from tests.support import mariadb


def sql(settings, statement: str, **params) -> None:
    """A change made in the database behind the API's back."""
    engine = make_engine(settings)
    try:
        with Session(engine) as db:
            db.exec(text(statement), params=params)
            db.commit()
    finally:
        engine.dispose()


def test_your_own_password_needs_your_current_one(client, new_account):
    account = new_account()
    path = f"/users/{account.id}"
    stolen = account.headers  # an access token alone
    missing = client.patch(path, json={"password": "taken-over-now"}, headers=stolen)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "current_password"]
    wrong = client.patch(
        path,
        json={"password": "taken-over-now", "current_password": "a-guess"},
        headers=stolen,
    )
    assert wrong.status_code == 403
    login(client, account.username, account.password)  # unchanged
    right = client.patch(
        path,
        json={"password": "changed-by-me", "current_password": account.password},
        headers=stolen,
    )
    assert right.status_code == 200, right.text
    login(client, account.username, "changed-by-me")


def test_an_admin_resets_a_password_without_it_and_ends_the_users_sessions(
    client, admin_headers, new_account
):
    account = new_account()
    reset = client.patch(
        f"/users/{account.id}", json={"password": "reset-by-admin"}, headers=admin_headers
    )
    assert reset.status_code == 200, reset.text
    assert client.get("/auth/me", headers=account.headers).status_code == 401
    refresh = {"refresh_token": account.tokens["refresh_token"]}
    assert client.post("/auth/refresh", json=refresh).status_code == 401
    login(client, account.username, "reset-by-admin")


def test_token_responses_are_not_cached(client, new_account):
    account = new_account()
    logged_in = client.post(
        "/auth/token", json={"username": account.username, "password": account.password}
    )
    refreshed = client.post(
        "/auth/refresh", json={"refresh_token": logged_in.json()["refresh_token"]}
    )
    for response in (logged_in, refreshed):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"


@pytest.fixture(params=["sqlite", "mariadb"])
def fresh(request, tmp_path) -> Iterator[TestClient]:
    """An API on a database of its own: its seeded admin is the only admin."""
    if request.param == "sqlite":
        settings = migrated(make_settings(None, tmp_path))
        with TestClient(create_app(settings)) as client:
            yield client
        return
    with mariadb.fresh_database() as name:
        settings = migrated(make_settings(name, tmp_path))
        with TestClient(create_app(settings)) as client:
            yield client


def test_the_last_active_admin_cannot_disable_itself(fresh):
    first = bearer(login(fresh, *ADMIN))
    me = fresh.get("/auth/me", headers=first).json()
    refused = fresh.delete(f"/users/{me['id']}", headers=first)
    assert refused.status_code == 403
    assert fresh.get("/auth/me", headers=first).status_code == 200
    name, password = unique(), "second-admin-pw"
    body = {"username": name, "password": password, "role_id": 1}
    second_id = fresh.post("/users", json=body, headers=first).json()["id"]
    second = bearer(login(fresh, name, password))
    assert fresh.delete(f"/users/{second_id}", headers=second).status_code == 204
    assert fresh.delete(f"/users/{me['id']}", headers=first).status_code == 403


def change_while_read(monkeypatch, settings, user_id: int, *changes: tuple[str, dict]):
    """The route's first read of `user_id` is followed by `changes`, committed by another
    client before the route's transaction begins (as a request that waited for a
    connection, or for a password's hashing, can see happen)."""
    reading = users_data.read_user

    async def then_changed(db, target):
        found = await reading(db, target)
        if target == user_id:
            for statement, params in changes:
                sql(settings, statement, **params)
        return found

    monkeypatch.setattr(users_data, "read_user", then_changed)


def plain_user(fresh) -> tuple[int, dict]:
    name, password = unique(), "plain-user-pw"
    admin = bearer(login(fresh, *ADMIN))
    created = fresh.post("/users", json={"username": name, "password": password}, headers=admin)
    return created.json()["id"], bearer(login(fresh, name, password))


def test_a_user_promoted_while_disabling_itself_counts_as_the_last_admin(fresh, monkeypatch):
    """The token said a plain user; by the time the request's transaction runs, the user is
    an admin and the other admin disabled: it is the last active admin and stays."""
    admin_id = fresh.get("/auth/me", headers=bearer(login(fresh, *ADMIN))).json()["id"]
    user_id, user = plain_user(fresh)
    promote = ("UPDATE users SET role_id = 1 WHERE id = :id", {"id": user_id})
    disable = ("UPDATE users SET activated = :no WHERE id = :id", {"no": False, "id": admin_id})
    change_while_read(monkeypatch, fresh.app.state.settings, user_id, promote, disable)
    refused = fresh.delete(f"/users/{user_id}", headers=user)
    assert refused.status_code == 403, refused.text
    assert refused.json() == {"detail": "The last active admin cannot be disabled"}
    monkeypatch.undo()
    assert fresh.get("/auth/me", headers=user).json()["activated"] is True


def test_a_patch_naming_your_old_role_does_not_undo_a_promotion(fresh, monkeypatch):
    user_id, user = plain_user(fresh)
    promote = ("UPDATE users SET role_id = 1 WHERE id = :id", {"id": user_id})
    change_while_read(monkeypatch, fresh.app.state.settings, user_id, promote)
    refused = fresh.patch(f"/users/{user_id}", json={"role_id": 2}, headers=user)
    assert refused.status_code == 403, refused.text
    assert refused.json() == {"detail": "You cannot change your own role"}
    monkeypatch.undo()
    assert fresh.get("/auth/me", headers=user).json()["role_id"] == 1


def test_an_expired_refresh_token_is_refused(client, api_settings, new_account):
    account = new_account()
    sql(
        api_settings,
        "UPDATE tokens SET refresh_expires_at = :past WHERE user_id = :user",
        past=utcnow() - timedelta(seconds=1),
        user=account.id,
    )
    refresh = {"refresh_token": account.tokens["refresh_token"]}
    assert client.post("/auth/refresh", json=refresh).status_code == 401


def test_expired_sessions_do_not_count_toward_the_cap(client, api_settings, new_account):
    account = new_account()  # session A (the cap is 2)
    newest = login(client, account.username, account.password)  # session B
    sql(
        api_settings,
        "UPDATE tokens SET refresh_expires_at = :past WHERE access_token_hash = :digest",
        past=utcnow() - timedelta(seconds=1),
        digest=token_digest(newest["access_token"]),
    )
    third = login(client, account.username, account.password)  # B expired: A and C remain
    assert client.get("/auth/me", headers=account.headers).status_code == 200
    assert client.get("/auth/me", headers=bearer(third)).status_code == 200


def test_a_user_disabled_in_the_database_loses_its_tokens(client, api_settings, new_account):
    account = new_account()
    assert client.get("/auth/me", headers=account.headers).status_code == 200
    sql(api_settings, "UPDATE users SET activated = :no WHERE id = :id", no=False, id=account.id)
    assert client.get("/auth/me", headers=account.headers).status_code == 401
    refresh = {"refresh_token": account.tokens["refresh_token"]}
    assert client.post("/auth/refresh", json=refresh).status_code == 401
