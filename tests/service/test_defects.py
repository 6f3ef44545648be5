"""One test per defect of the original app (SEED-FEATURES.md numbering) that the API owns.

Defects 5 (races) are in test_concurrency.py, 8's log part in test_secrets_at_rest.py,
12 in test_token_cleanup.py, 15 in tests/image and 16 in tests/observability.
"""

import socket
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from fastapi_example.db import make_engine
from fastapi_example.main import create_app
from tests.service.conftest import ADMIN, bearer, login, unique


def test_defect_01_create_user_change_password_disable(client, admin_headers):
    created = client.post("/users", json={"username": unique()}, headers=admin_headers)
    assert created.status_code == 201
    user = created.json()
    tokens = login(client, user["username"], user["password"])
    changed = client.patch(
        f"/users/{user['id']}",
        json={"password": "another-password", "current_password": user["password"]},
        headers=bearer(tokens),
    )
    assert changed.status_code == 200
    assert client.delete(f"/users/{user['id']}", headers=admin_headers).status_code == 204


def test_defect_02_paging_validated_before_the_query_and_escaped(client, admin_headers):
    for params in ({"limit": 1000}, {"page": 0}, {"limit": -1}):
        assert client.get("/items", params=params, headers=admin_headers).status_code == 422
    tag = unique("d2")
    for name in (f"{tag}%", f"{tag}x"):
        client.post("/items", json={"name": name}, headers=admin_headers)
    body = client.get("/items", params={"name": f"{tag}%"}, headers=admin_headers).json()
    assert [i["name"] for i in body["items"]] == [f"{tag}%"]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "", "password": "x"},
        {"username": "admin", "password": ""},
        {"username": "a" * 31, "password": "x"},
        {"username": "admin", "password": "p" * 129},
        {"username": None, "password": "x"},
        {},
    ],
)
def test_defect_03_bad_login_input_is_422(client, body):
    response = client.post("/auth/token", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("other", ["àdmin", "adm\u0131n"])  # dotless i: another letter
def test_defect_03_other_letters_are_other_names(client, other):
    response = client.post("/auth/token", json={"username": other, "password": ADMIN[1]})
    assert response.status_code == 401


@pytest.mark.parametrize("same", ["ADMIN", "Admin", "\uff41dmin"])  # full-width a
def test_defect_03_case_and_compatibility_forms_are_the_same_name(client, same):
    response = client.post("/auth/token", json={"username": same, "password": ADMIN[1]})
    assert response.status_code == 200


def test_defect_03_padded_username_is_refused(client):
    for padded in ("admin ", " admin"):
        response = client.post("/auth/token", json={"username": padded, "password": ADMIN[1]})
        assert response.status_code == 422


@pytest.mark.parametrize("username", ["日本語のユーザー", "Ελένη", "Zoë", "한국어", "x.y_z-"])
def test_defect_03_unicode_usernames_work(client, admin_headers, username):
    username = f"{username}{uuid.uuid4().int % 10**6}"  # digits: no second script
    body = {"username": username, "password": "unicode-password"}
    created = client.post("/users", json=body, headers=admin_headers)
    assert created.status_code == 201, created.text
    assert created.json()["username"] == username
    assert login(client, username, "unicode-password")["id"] == created.json()["id"]


def test_defect_04_unhandled_errors_are_json_500(api_settings):
    app = create_app(api_settings)

    def explode():
        raise RuntimeError("boom with a secret inside")

    app.add_api_route("/explode", explode)
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the static mount at /

    with TestClient(app, raise_server_exceptions=False) as broken:
        response = broken.get("/explode")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    # The server closes the connection after an unhandled error: clients must not reuse it.
    assert response.headers["connection"] == "close"


def test_defect_07_patch_item_with_its_own_name(client, admin_headers):
    item = client.post(
        "/items", json={"name": unique("d7"), "description": "d"}, headers=admin_headers
    ).json()
    same = client.patch(
        f"/items/{item['id']}",
        json={"name": item["name"], "description": None},
        headers=admin_headers,
    )
    assert same.status_code == 200 and same.json()["description"] is None


def test_defect_08_tokens_are_random_and_stored_as_digests(client, api_settings, new_account):
    account = new_account()
    tokens = [account.tokens["access_token"], account.tokens["refresh_token"]]
    assert len(set(tokens)) == 2 and all(len(t) >= 43 for t in tokens)
    engine = make_engine(api_settings)
    with Session(engine) as db:
        rows = db.exec(
            text("SELECT access_token_hash, refresh_token_hash FROM tokens WHERE user_id = :u"),
            params={"u": account.id},
        ).all()
    engine.dispose()
    stored = {value for row in rows for value in row}
    assert not stored & set(tokens)
    assert all(len(value) == 64 for value in stored)


def test_defect_09_argon2id_and_long_passwords_keep_every_byte(client, admin_headers, api_settings):
    prefix = "x" * 80  # bcrypt would have cut both at 72 bytes
    username = unique()
    body = {"username": username, "password": prefix + "-one"}
    assert client.post("/users", json=body, headers=admin_headers).status_code == 201
    wrong = client.post("/auth/token", json={"username": username, "password": prefix + "-two"})
    assert wrong.status_code == 401
    engine = make_engine(api_settings)
    with Session(engine) as db:
        stored = db.exec(
            text("SELECT hashed_password FROM users WHERE username = :u"), params={"u": username}
        ).one()[0]
    engine.dispose()
    assert stored.startswith("$argon2id$")


def test_defect_11_docs_basic_auth_is_throttled(client, new_account):
    account = new_account()
    for _ in range(5):
        assert client.get("/docs", auth=(account.username, "wrong-password")).status_code == 401
    assert client.get("/docs", auth=(account.username, account.password)).status_code == 429


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_defect_13_metrics_listen_only_during_the_lifespan(api_settings):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    app = create_app(api_settings.model_copy(update={"metrics_port": port}))
    assert not _listening(port)  # building (importing) the app binds nothing
    with TestClient(app) as running:
        assert _listening(port)
        assert running.get("/metrics").status_code == 404  # not on the API port
    assert not _listening(port)


def test_defect_14_upgrade_header_and_empty_version(client):
    assert client.get("/roles", headers={"X-Version": ""}).status_code == 200
    refused = client.get("/roles", headers={"X-Version": "0.3"})
    assert refused.status_code == 426 and refused.headers["Upgrade"]
