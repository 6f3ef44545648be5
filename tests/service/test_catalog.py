"""Roles, versions and the X-Version check."""

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert

from fastapi_example.db import make_engine
from fastapi_example.models import RolePublic, Version, VersionPublic


def test_roles(client):
    assert client.get("/roles").json() == [{"id": 1, "name": "admin"}, {"id": 2, "name": "user"}]
    assert client.get("/roles/2").json() == {"id": 2, "name": "user"}
    assert client.get("/roles/3").status_code == 404


def test_versions_seeded_from_the_default_file(client):
    versions = client.get("/versions").json()
    assert [v["version"] for v in versions] == [f"0.{n}" for n in range(1, 9)] + ["1.0"]
    assert [v["supported"] for v in versions] == [False] * 8 + [True]


def test_the_lists_are_answered_as_their_response_model_writes_them(client):
    """GET /roles and /versions answer JSON the catalog made at its refresh: byte for byte
    what FastAPI writes from the same lists through the routes' response_model."""
    served = {path: client.get(path) for path in ("/roles", "/versions")}
    catalog = client.app.state.catalog
    reference = FastAPI()
    reference.get("/roles", response_model=list[RolePublic])(lambda: catalog.roles)
    reference.get("/versions", response_model=list[VersionPublic])(lambda: catalog.versions)
    with TestClient(reference) as written:
        for path, response in served.items():
            expected = written.get(path)
            assert response.content == expected.content, path
            assert response.headers["content-type"] == expected.headers["content-type"]


def test_the_lists_follow_the_catalog_refresh(client, api_settings):
    engine = make_engine(api_settings)  # the test apps refresh the catalog on every request
    try:
        with engine.begin() as connection:
            connection.execute(insert(Version).values(version="0.0.9", supported=False))
        listed = [v["version"] for v in client.get("/versions").json()]
        assert listed[-1] == "0.0.9"
    finally:
        with engine.begin() as connection:
            connection.execute(delete(Version).where(Version.version == "0.0.9"))
        engine.dispose()
    assert "0.0.9" not in [v["version"] for v in client.get("/versions").json()]


def test_supported_absent_and_empty_versions_pass(client):
    for headers in ({"X-Version": "1.0"}, {}, {"X-Version": ""}, {"X-Version": "1.0 \t"}):
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


def test_version_is_checked_before_validation(client, admin_headers):
    retired = {**admin_headers, "X-Version": "0.2"}
    assert client.get("/items", params={"limit": 0}, headers=retired).status_code == 426
    assert client.post("/items", json={"name": ""}, headers=retired).status_code == 426
    assert client.get("/items/not-a-number", headers=retired).status_code == 426


@pytest.mark.parametrize(
    "lines", [["1.0", "0.8"], ["0.8", "1.0"], ["", "0.8"], ["1.0", "1.0"], ["1.0, 0.8"]]
)
def test_several_x_version_lines_are_one_unknown_version(client, lines):
    """Several lines are one value joined by commas (RFC 9110), as a proxy that merges them
    would send it: not the first line's version."""
    headers = [("X-Version", line) for line in lines]
    response = client.get("/roles", headers=headers)
    assert response.status_code == 426, lines
    assert response.json() == {"detail": "Unknown version"}


def test_an_oversized_version_is_unknown(client):
    response = client.get("/roles", headers={"X-Version": "9" * 300})
    assert response.status_code == 426
    assert response.json() == {"detail": "Unknown version"}


def test_every_operation_that_documents_the_header_checks_it(client):
    """The schema's x-version parameter and the check come from one route class: each
    operation that documents the header refuses a retired version, and no other does."""
    schema = client.app.openapi()
    checked, unchecked = [], []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            documented = any(
                p["in"] == "header" and p["name"] == "x-version"
                for p in operation.get("parameters", [])
            )
            url = re.sub(r"\{[^}]+\}", "1", path)
            status = client.request(method, url, headers={"X-Version": "0.1"}).status_code
            (checked if documented else unchecked).append((method, path, status))
    versioned = {"items", "auth", "roles", "users"}
    assert {path.split("/")[1] for _, path, _ in checked} == versioned
    assert not any(path.split("/")[1] in versioned for _, path, _ in unchecked), unchecked
    assert all(status == 426 for _, _, status in checked), checked
    assert unchecked and not any(status == 426 for _, _, status in unchecked), unchecked
