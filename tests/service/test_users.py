"""Users: creation by admins, listing, the PATCH rules, disabling."""

from fastapi_example.models import UsersPage
from tests.service.conftest import ADMIN, bearer, login, unique


def test_admin_creates_a_user_with_a_generated_password(client, admin_headers):
    username = unique()
    response = client.post("/users", json={"username": username}, headers=admin_headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == username and body["role_id"] == 2 and body["activated"]
    assert len(body["password"]) >= 16
    login(client, username, body["password"])


def test_a_given_password_is_not_echoed(client, admin_headers):
    username = unique()
    body = {"username": username, "password": "a-given-password"}
    response = client.post("/users", json=body, headers=admin_headers)
    assert response.status_code == 201
    assert response.json()["password"] is None
    login(client, username, "a-given-password")


def test_duplicate_username_is_409(client, admin_headers):
    username = unique()
    assert (
        client.post("/users", json={"username": username}, headers=admin_headers).status_code == 201
    )
    again = client.post("/users", json={"username": username}, headers=admin_headers)
    assert again.status_code == 409
    assert again.json() == {"detail": "Username already taken"}


def test_unknown_role_is_422(client, admin_headers):
    response = client.post(
        "/users", json={"username": unique(), "role_id": 99}, headers=admin_headers
    )
    assert response.status_code == 422


def test_list_users_filters_and_pages(client, admin_headers):
    tag = unique("list")
    for n in range(3):
        client.post("/users", json={"username": f"{tag}-{n}"}, headers=admin_headers)
    page = client.get("/users", params={"username": tag.upper(), "limit": 2}, headers=admin_headers)
    assert page.status_code == 200
    body = page.json()
    assert (body["page"], body["limit"], body["total"]) == (1, 2, 3)
    assert [u["username"] for u in body["users"]] == [f"{tag}-0", f"{tag}-1"]
    second = client.get(
        "/users", params={"username": tag, "limit": 2, "page": 2}, headers=admin_headers
    ).json()
    assert [u["username"] for u in second["users"]] == [f"{tag}-2"]
    # Written by the route's response_model: exactly the model's bytes.
    for response in (page, client.get("/users", params={"page": 99999}, headers=admin_headers)):
        assert (
            response.content
            == UsersPage.model_validate_json(response.content).model_dump_json().encode()
        )


def test_list_users_by_activation(client, admin_headers, new_account):
    account = new_account()
    client.delete(f"/users/{account.id}", headers=admin_headers)
    disabled = client.get(
        "/users", params={"activated": False, "username": account.username}, headers=admin_headers
    ).json()
    assert [u["id"] for u in disabled["users"]] == [account.id]
    active = client.get(
        "/users", params={"activated": True, "username": account.username}, headers=admin_headers
    ).json()
    assert active["total"] == 0


def test_user_changes_own_username_and_password(client, new_account):
    account = new_account()
    other_device = login(client, account.username, account.password)
    new_name = unique()
    response = client.patch(
        f"/users/{account.id}",
        json={
            "username": new_name,
            "password": "brand-new-password",
            "current_password": account.password,
        },
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["username"] == new_name
    login(client, new_name, "brand-new-password")
    # The device that made the change stays logged in; the others must log in again.
    assert client.get("/auth/me", headers=account.headers).status_code == 200
    assert client.get("/auth/me", headers=bearer(other_device)).status_code == 401
    old = client.post("/auth/token", json={"username": new_name, "password": account.password})
    assert old.status_code == 401


def test_user_cannot_make_themself_admin_or_change_activation(client, new_account):
    account = new_account()
    for change in ({"role_id": 1}, {"activated": False}):
        response = client.patch(f"/users/{account.id}", json=change, headers=account.headers)
        assert response.status_code == 403, change
    me = client.get("/auth/me", headers=account.headers).json()
    assert me["role_id"] == 2 and me["activated"]


def test_user_cannot_edit_another_user(client, new_account):
    account, other = new_account(), new_account()
    response = client.patch(
        f"/users/{other.id}", json={"username": unique()}, headers=account.headers
    )
    assert response.status_code == 403


def test_admin_edits_a_user_and_promotes_them(client, admin_headers, new_account):
    account = new_account()
    response = client.patch(f"/users/{account.id}", json={"role_id": 1}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["role_id"] == 1


def test_admin_cannot_edit_or_disable_another_admin(client, admin_headers, new_account):
    other_admin = new_account(role_id=1)
    for change in ({"role_id": 2}, {"activated": False}, {"password": "taken-over-now"}):
        response = client.patch(f"/users/{other_admin.id}", json=change, headers=admin_headers)
        assert response.status_code == 403, change
    assert client.delete(f"/users/{other_admin.id}", headers=admin_headers).status_code == 403
    me = client.get("/auth/me", headers=other_admin.headers).json()
    assert me["role_id"] == 1 and me["activated"]


def test_admin_edits_own_account_but_not_own_role(client, new_account):
    admin = new_account(role_id=1)
    renamed = client.patch(f"/users/{admin.id}", json={"username": unique()}, headers=admin.headers)
    assert renamed.status_code == 200
    demote = client.patch(f"/users/{admin.id}", json={"role_id": 2}, headers=admin.headers)
    assert demote.status_code == 403


def test_null_fields_are_refused(client, new_account):
    account = new_account()
    for change in ({"username": None}, {"password": None}, {"role_id": None}):
        response = client.patch(f"/users/{account.id}", json=change, headers=account.headers)
        assert response.status_code == 422, change


def test_patch_to_a_taken_username_is_409(client, new_account):
    account, other = new_account(), new_account()
    response = client.patch(
        f"/users/{account.id}", json={"username": other.username}, headers=account.headers
    )
    assert response.status_code == 409


def test_disable_revokes_sessions_and_reenable_does_not_revive_them(
    client, admin_headers, new_account
):
    account = new_account()
    second = login(client, account.username, account.password)
    assert client.delete(f"/users/{account.id}", headers=admin_headers).status_code == 204
    for tokens in (account.tokens, second):
        assert client.get("/auth/me", headers=bearer(tokens)).status_code == 401
        refresh = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refresh.status_code == 401
    disabled_login = client.post(
        "/auth/token", json={"username": account.username, "password": account.password}
    )
    assert disabled_login.status_code == 403
    enabled = client.patch(f"/users/{account.id}", json={"activated": True}, headers=admin_headers)
    assert enabled.status_code == 200
    assert client.get("/auth/me", headers=account.headers).status_code == 401
    login(client, account.username, account.password)


def test_user_disables_themself(client, new_account):
    account = new_account()
    assert client.delete(f"/users/{account.id}", headers=account.headers).status_code == 204
    assert client.get("/auth/me", headers=account.headers).status_code == 401


def test_admin_deactivation_by_patch_revokes(client, admin_headers, new_account):
    account = new_account()
    response = client.patch(
        f"/users/{account.id}", json={"activated": False}, headers=admin_headers
    )
    assert response.status_code == 200
    assert client.get("/auth/me", headers=account.headers).status_code == 401


def test_missing_user_is_404_for_admin(client, admin_headers):
    assert client.get("/users/2147483647", headers=admin_headers).status_code == 404
    assert client.patch("/users/2147483647", json={}, headers=admin_headers).status_code == 404
    assert client.delete("/users/2147483647", headers=admin_headers).status_code == 404


def test_seeded_admin_is_admin(client):
    tokens = login(client, *ADMIN)
    assert client.get("/auth/me", headers=bearer(tokens)).json()["role_id"] == 1


def test_a_patch_that_changes_nothing_leaves_the_user_as_it_was(client, admin_headers, new_account):
    account = new_account()
    path = f"/users/{account.id}"
    before = client.get(path, headers=admin_headers).json()
    for same in ({}, {"username": account.username}, {"role_id": 2, "activated": True}):
        for headers in (account.headers, admin_headers):
            patched = client.patch(path, json=same, headers=headers)
            assert patched.status_code == 200, patched.text
            assert patched.json() == before  # updated_at included
    assert client.get("/auth/me", headers=account.headers).json() == before
    new_name = unique()
    renamed = client.patch(path, json={"username": new_name, "role_id": 2}, headers=admin_headers)
    assert renamed.json()["username"] == new_name
    assert renamed.json()["updated_at"] > before["updated_at"]
    login(client, new_name, account.password)  # the new name's key was written with it
