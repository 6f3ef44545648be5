"""Roles, versions and the X-Version check."""


def test_roles(client):
    assert client.get("/roles").json() == [{"id": 1, "name": "admin"}, {"id": 2, "name": "user"}]
    assert client.get("/roles/2").json() == {"id": 2, "name": "user"}
    assert client.get("/roles/3").status_code == 404


def test_versions_seeded_from_the_default_file(client):
    versions = client.get("/versions").json()
    assert [v["version"] for v in versions] == [f"0.{n}" for n in range(1, 9)] + ["1.0"]
    assert [v["supported"] for v in versions] == [False] * 8 + [True]


def test_supported_absent_and_empty_versions_pass(client):
    for headers in ({"X-Version": "1.0"}, {}, {"X-Version": ""}):
        assert client.get("/roles", headers=headers).status_code == 200, headers


def test_unsupported_and_unknown_versions_get_426_with_upgrade(client, new_account):
    account = new_account()
    for version in ("0.8", "0.1", "9.9", "garbage"):
        for method, path in (("GET", "/roles"), ("GET", "/items"), ("GET", "/auth/me")):
            response = client.request(
                method, path, headers={**account.headers, "X-Version": version}
            )
            assert response.status_code == 426, (version, path)
            assert response.headers["Upgrade"] == "X-Version/1.0"
            assert response.headers["content-type"] == "application/json"
            assert response.json()["detail"]


def test_version_is_checked_before_authentication(client):
    assert client.get("/items", headers={"X-Version": "0.2"}).status_code == 426


def test_unversioned_routes(client):
    for path in ("/versions", "/healthz", "/logo.png"):
        assert client.get(path, headers={"X-Version": "0.1"}).status_code == 200, path
