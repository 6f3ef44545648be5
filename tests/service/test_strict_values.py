"""Ids, numbers and flags are taken only as what they are: a request that means something
else (1.0, +1, " 1", 1_000, true for a role id) gets 422, on every route that takes one."""

import pytest

from tests.service.conftest import unique

# Path and query text that int() or lax pydantic would read as 1 (or 10, 1000).
LAX_TEXT = ["1.0", "+1", " 1", "1 ", "1_000", "01", "0x1", "1e1", "\u0661", "1\u00a0", "%201", "-0"]
# JSON values that lax pydantic would take for the integer 1.
LAX_JSON = [1.0, True, "1", "2", [1], {"id": 1}]


@pytest.mark.parametrize("text", LAX_TEXT)
def test_path_ids_are_decimal_digits(client, admin_headers, text):
    for path in ("/items/{}", "/users/{}", "/roles/{}"):
        response = client.get(path.format(text), headers=admin_headers)
        assert response.status_code == 422, (path, text, response.text)
    response = client.patch(f"/users/{text}", json={}, headers=admin_headers)
    assert response.status_code == 422
    response = client.delete(f"/items/{text}", headers=admin_headers)
    assert response.status_code == 422


def test_plain_ids_still_work(client, admin_headers):
    assert client.get("/roles/1", headers=admin_headers).status_code == 200
    assert client.get("/items/2147483647", headers=admin_headers).status_code == 404
    assert client.get("/items/2147483648", headers=admin_headers).status_code == 422
    assert client.get("/items/99999999999999999999999", headers=admin_headers).status_code == 422


@pytest.mark.parametrize("text", LAX_TEXT)
def test_paging_numbers_are_decimal_digits(client, admin_headers, text):
    for params in ({"page": text}, {"limit": text}):
        response = client.get("/items", params=params, headers=admin_headers)
        assert response.status_code == 422, (params, response.text)
    assert client.get("/items", params={"page": "2", "limit": "10"}, headers=admin_headers)


@pytest.mark.parametrize("value", LAX_JSON)
def test_a_role_id_in_a_body_is_a_json_integer(client, admin_headers, new_account, value):
    created = client.post(
        "/users", json={"username": unique(), "role_id": value}, headers=admin_headers
    )
    assert created.status_code == 422, created.text
    account = new_account()
    changed = client.patch(f"/users/{account.id}", json={"role_id": value}, headers=admin_headers)
    assert changed.status_code == 422, changed.text
    assert client.get(f"/users/{account.id}", headers=admin_headers).json()["role_id"] == 2


@pytest.mark.parametrize("value", [1, 0, "true", "false", "yes", None, [], {}])
def test_activated_is_a_json_boolean(client, admin_headers, new_account, value):
    account = new_account()
    changed = client.patch(f"/users/{account.id}", json={"activated": value}, headers=admin_headers)
    assert changed.status_code == 422, changed.text
    assert client.get("/auth/me", headers=account.headers).status_code == 200


@pytest.mark.parametrize("value", [12, 1.5, True, ["a"], {"a": 1}])
def test_text_fields_are_json_strings(client, admin_headers, value):
    for path, body in (
        ("/items", {"name": value}),
        ("/items", {"name": unique("s"), "description": value}),
        ("/users", {"username": value}),
        ("/auth/token", {"username": unique(), "password": value}),
        ("/auth/refresh", {"refresh_token": value}),
    ):
        response = client.post(path, json=body, headers=admin_headers)
        assert response.status_code == 422, (path, body, response.text)
