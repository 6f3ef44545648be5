"""REST through the front door (the Ingress on kind, the Service stand-in locally)."""

import uuid

import httpx

from tests.e2e.conftest import bearer, login


def test_login_me_and_logout(client: httpx.Client, make_user):
    username, password, user_id = make_user()
    pair = login(client, username, password)
    assert pair["id"] == user_id and pair["expires"] > 0 and pair["refresh_token"]
    me = client.get("/auth/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 200
    assert me.json()["username"] == username
    assert client.post("/auth/logout", headers=bearer(pair["access_token"])).status_code == 204
    assert client.get("/auth/me", headers=bearer(pair["access_token"])).status_code == 401


def test_item_create_read_update_delete(client: httpx.Client, make_user):
    username, password, user_id = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    name = f"item-{uuid.uuid4().hex[:8]}"

    created = client.post("/items", headers=auth, json={"name": name, "description": "first"})
    assert created.status_code == 201, created.text
    item = created.json()
    assert item["name"] == name and item["user_id"] == user_id
    assert client.post("/items", headers=auth, json={"name": name}).status_code == 409

    read = client.get(f"/items/{item['id']}", headers=auth)
    assert read.status_code == 200 and read.json()["description"] == "first"
    listed = client.get("/items", headers=auth, params={"name": name})
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]

    patched = client.patch(f"/items/{item['id']}", headers=auth, json={"description": "second"})
    assert patched.status_code == 200 and patched.json()["description"] == "second"

    assert client.delete(f"/items/{item['id']}", headers=auth).status_code == 204
    assert client.get(f"/items/{item['id']}", headers=auth).status_code == 404


def test_unsupported_and_unknown_versions_get_426(target, client: httpx.Client, make_user):
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    assert client.get("/items", headers={**auth, "X-Version": "1.0"}).status_code == 200
    for version in ("0.1", "9.9"):
        response = client.get("/items", headers={**auth, "X-Version": version})
        assert response.status_code == 426, (version, response.text)
        if target.keeps_upgrade_header:
            assert response.headers.get("Upgrade")
        assert "detail" in response.json()


def test_unauthenticated_and_forbidden(client: httpx.Client, make_user, admin):
    assert client.get("/auth/me").status_code == 401
    assert client.get("/items", headers=bearer("not-a-token")).status_code == 401
    wrong = client.post("/auth/token", json={"username": "admin", "password": "wrong-password"})
    assert wrong.status_code == 401

    owner_name, owner_password, _ = make_user()
    other_name, other_password, _ = make_user()
    owner = bearer(login(client, owner_name, owner_password)["access_token"])
    other = bearer(login(client, other_name, other_password)["access_token"])
    item = client.post("/items", headers=owner, json={"name": f"own-{uuid.uuid4().hex[:8]}"})
    assert item.status_code == 201
    item_id = item.json()["id"]
    # Only the owner or an admin may change or delete an item; only admins create users.
    assert client.patch(f"/items/{item_id}", headers=other, json={"name": "x"}).status_code == 403
    assert client.delete(f"/items/{item_id}", headers=other).status_code == 403
    assert client.post("/users", headers=other, json={"username": "nope-user"}).status_code == 403
    assert client.delete(f"/items/{item_id}", headers=admin).status_code == 204
