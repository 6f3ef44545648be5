"""REST through the Ingress controller, from the host: what a client of the API sees."""

import uuid

import httpx

from tests.e2e.conftest import bearer, login
from tests.e2e.release import Release


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
    duplicate = client.post("/items", headers=auth, json={"name": name})
    assert duplicate.status_code == 409 and "detail" in duplicate.json()

    read = client.get(f"/items/{item['id']}", headers=auth)
    assert read.status_code == 200 and read.json()["description"] == "first"
    listed = client.get("/items", headers=auth, params={"name": name})
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]

    patched = client.patch(f"/items/{item['id']}", headers=auth, json={"description": "second"})
    assert patched.status_code == 200 and patched.json()["description"] == "second"

    assert client.delete(f"/items/{item['id']}", headers=auth).status_code == 204
    missing = client.get(f"/items/{item['id']}", headers=auth)
    assert missing.status_code == 404 and "detail" in missing.json()


def test_invalid_input_gets_422(client: httpx.Client, make_user):
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    for response in (
        client.post("/items", headers=auth, json={"description": "no name"}),
        client.get("/items", headers=auth, params={"limit": 0}),
        client.get("/items/not-a-number", headers=auth),
        client.post("/auth/token", json={"username": "only"}),
    ):
        assert response.status_code == 422, response.text
        assert isinstance(response.json()["detail"], list)


def test_unsupported_and_unknown_versions_get_426(client: httpx.Client, make_user):
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    assert client.get("/items", headers={**auth, "X-Version": "1.0"}).status_code == 200
    for version in ("0.1", "9.9"):
        response = client.get("/items", headers={**auth, "X-Version": version})
        assert response.status_code == 426, (version, response.text)
        # Traefik drops `Upgrade` (a hop-by-hop header) from every answer but a 101.
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


def test_the_metrics_port_is_not_reachable_through_the_ingress(
    client: httpx.Client, release: Release
):
    # The Ingress sends every path to the API port; the metrics listener has a port of its own.
    ingress = release.one("Ingress")
    backends = [
        p["backend"]["service"]["port"]
        for r in ingress["spec"]["rules"]
        for p in r["http"]["paths"]
    ]
    assert backends == [{"name": "http"}]
    response = client.get("/metrics")
    assert response.status_code == 404
    assert "http_requests_total" not in response.text
