"""Login, refresh rotation and reuse, logout, the session cap, throttling."""

from dataclasses import fields
from datetime import timedelta

from fastapi_example.data import sessions
from fastapi_example.deps import Caller
from fastapi_example.models import UserPublic
from tests.service.conftest import bearer, login, unique

REFRESH_GRACE_SECONDS = 30  # the default, which the test app uses


def test_login_returns_the_original_shape(client, new_account):
    account = new_account()
    tokens = login(client, account.username, account.password)
    assert set(tokens) == {"id", "access_token", "expires", "refresh_token"}
    assert tokens["id"] == account.id
    assert tokens["expires"] == 120 * 60
    assert tokens["access_token"] != tokens["refresh_token"]


def test_me_returns_the_caller(client, new_account):
    account = new_account()
    me = client.get("/auth/me", headers=account.headers)
    assert me.status_code == 200
    assert me.json()["username"] == account.username
    assert set(me.json()) == {"id", "username", "role_id", "activated", "created_at", "updated_at"}


def test_me_and_a_user_read_are_exactly_the_model_serialized(client, new_account):
    """Both answer the bytes FastAPI writes from the response model, alike."""
    account = new_account()
    me = client.get("/auth/me", headers=account.headers)
    read = client.get(f"/users/{account.id}", headers=account.headers)
    assert me.content == read.content
    assert me.headers["content-type"] == "application/json"
    assert me.content == UserPublic.model_validate_json(me.content).model_dump_json().encode()


def test_the_caller_holds_the_public_fields_and_its_session():
    """deps.Caller is a dataclass (cheaper to build than a model): it must keep UserPublic's
    fields, which GET /auth/me answers, and the session id."""
    assert [field.name for field in fields(Caller)] == [*UserPublic.model_fields, "session_id"]


def test_wrong_password_and_unknown_user_are_401(client, new_account):
    account = new_account()
    for username, password in ((account.username, "wrong-password"), (unique(), "whatever")):
        response = client.post("/auth/token", json={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json() == {"detail": "Incorrect username or password"}


def test_refresh_rotates_both_tokens(client, new_account):
    account = new_account()
    old = account.tokens
    response = client.post("/auth/refresh", json={"refresh_token": old["refresh_token"]})
    assert response.status_code == 200
    new = response.json()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]
    assert client.get("/auth/me", headers=bearer(old)).status_code == 401
    assert client.get("/auth/me", headers=bearer(new)).status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_session(client, new_account):
    account = new_account()
    first = account.tokens
    second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    third = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
    # The very first refresh token, already rotated twice, is presented again (a thief's copy).
    reuse = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert client.get("/auth/me", headers=bearer(third)).status_code == 401
    again = client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert again.status_code == 401


def test_reuse_revokes_only_that_session(client, new_account, monkeypatch):
    account = new_account()
    other = login(client, account.username, account.password)
    body = {"refresh_token": account.tokens["refresh_token"]}
    rotated = client.post("/auth/refresh", json=body)
    assert rotated.status_code == 200
    later = sessions.utcnow() + timedelta(seconds=REFRESH_GRACE_SECONDS + 1)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    assert client.post("/auth/refresh", json=body).status_code == 401
    assert client.get("/auth/me", headers=bearer(rotated.json())).status_code == 401
    assert client.get("/auth/me", headers=bearer(other)).status_code == 200


def test_a_refresh_repeated_within_the_grace_period_gets_the_same_pair(client, new_account):
    account = new_account()
    body = {"refresh_token": account.tokens["refresh_token"]}
    first, again = client.post("/auth/refresh", json=body), client.post("/auth/refresh", json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["refresh_token"] != account.tokens["refresh_token"]
    assert client.get("/auth/me", headers=bearer(first.json())).status_code == 200
    assert client.get("/auth/me", headers=account.headers).status_code == 401  # the old one
    following = client.post("/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert following.status_code == 200


def test_garbage_refresh_token_is_401(client):
    response = client.post("/auth/refresh", json={"refresh_token": "not-a-token"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"


def test_logout_ends_only_the_current_session(client, new_account):
    account = new_account()
    other = login(client, account.username, account.password)
    assert client.post("/auth/logout", headers=account.headers).status_code == 204
    assert client.get("/auth/me", headers=account.headers).status_code == 401
    assert (
        client.post(
            "/auth/refresh", json={"refresh_token": account.tokens["refresh_token"]}
        ).status_code
        == 401
    )
    assert client.get("/auth/me", headers=bearer(other)).status_code == 200


def test_at_most_two_sessions_the_oldest_evicted(client, new_account):
    account = new_account()  # session 1
    second = login(client, account.username, account.password)
    third = login(client, account.username, account.password)
    assert client.get("/auth/me", headers=account.headers).status_code == 401
    assert client.get("/auth/me", headers=bearer(second)).status_code == 200
    assert client.get("/auth/me", headers=bearer(third)).status_code == 200


def test_throttling_after_five_failures(client, new_account):
    account = new_account()
    for _ in range(5):
        wrong = {"username": account.username, "password": "not-the-password"}
        assert client.post("/auth/token", json=wrong).status_code == 401
    right = {"username": account.username, "password": account.password}
    throttled = client.post("/auth/token", json=right)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 300
    assert throttled.json()["detail"]
    # Other usernames are not affected.
    other = new_account()
    login(client, other.username, other.password)


def test_throttle_window_passes(api_settings, new_account, monkeypatch):
    """Once the window has passed the same user may log in again: the throttle's clock is
    moved on, not waited for."""
    from fastapi.testclient import TestClient

    from fastapi_example.data import login_throttle
    from fastapi_example.main import create_app

    now = login_throttle.utcnow()
    monkeypatch.setattr(login_throttle, "utcnow", lambda: now)
    account = new_account()
    with TestClient(create_app(api_settings)) as app:
        for _ in range(5):
            app.post("/auth/token", json={"username": account.username, "password": "nope-nope"})
        body = {"username": account.username, "password": account.password}
        throttled = app.post("/auth/token", json=body)
        assert throttled.status_code == 429
        # The window began now: it ends a whole window from now, when the next try passes.
        assert throttled.headers["Retry-After"] == str(api_settings.login_window_seconds)
        now += timedelta(seconds=api_settings.login_window_seconds - 1)
        assert app.post("/auth/token", json=body).status_code == 429
        now += timedelta(seconds=1)
        assert app.post("/auth/token", json=body).status_code == 200


def test_successful_login_resets_the_failure_count(client, new_account):
    account = new_account()
    wrong = {"username": account.username, "password": "not-the-password"}
    for _ in range(4):
        client.post("/auth/token", json=wrong)
    login(client, account.username, account.password)
    for _ in range(4):
        assert client.post("/auth/token", json=wrong).status_code == 401
    login(client, account.username, account.password)


def test_expired_access_token_is_401(api_settings, new_account):
    from fastapi.testclient import TestClient

    from fastapi_example.main import create_app

    settings = api_settings.model_copy(update={"access_token_minutes": 0})
    account = new_account()
    with TestClient(create_app(settings)) as short:
        tokens = login(short, account.username, account.password)
        assert short.get("/auth/me", headers=bearer(tokens)).status_code == 401
        # The refresh token still works and yields a (again instantly expired) pair.
        response = short.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert response.status_code == 200
