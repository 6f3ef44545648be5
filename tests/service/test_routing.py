"""Routing at and around the routers' prefixes: 404s, 405s and the static files at /."""

import pytest
from fastapi.testclient import TestClient

from fastapi_example.main import create_app
from tests.service.conftest import make_settings, migrated


@pytest.fixture(scope="module")
def app_client(tmp_path_factory):
    settings = migrated(make_settings(None, tmp_path_factory.mktemp("routing")))
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client


def test_matching_at_and_around_the_prefixes(app_client):
    assert app_client.get("/roles/2").json() == {"id": 2, "name": "user"}
    assert app_client.get("/versions").status_code == 200
    # A known path with another method: 405 with the methods it has.
    response = app_client.put("/roles")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    # HEAD too: FastAPI's GET routes take no HEAD (the static files' mount at / would have
    # answered 404, and Allow once named HEAD).
    response = app_client.head("/roles")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    # A GET on a path that takes POST only falls through to the static files' mount at /:
    # still 405 (schemathesis' unsupported_method found the mount's 404 here).
    for path in ("/auth/token", "/auth/logout"):
        response = app_client.get(path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == "POST", path
    # Under a prefix but no route of it, sharing only the prefix's letters, or with a trailing
    # slash (the static files' mount at / takes what no route matched): 404 JSON, as before.
    for path in ("/roles/2/extra", "/rolesx", "/itemsx/1", "/versions/"):
        response = app_client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not Found"}, path
