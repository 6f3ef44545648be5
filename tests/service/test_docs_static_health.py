"""Docs behind HTTP Basic, the root redirect, static files, probes, JSON errors."""

import pytest
from fastapi.testclient import TestClient

from fastapi_example.main import create_app
from fastapi_example.settings import PACKAGE_DIR
from tests.service.conftest import ADMIN


def test_docs_and_schema_need_an_admin(client, new_account):
    account = new_account()
    for path in ("/docs", "/openapi.json"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
        assert client.get(path, auth=(account.username, account.password)).status_code == 403
        assert client.get(path, auth=ADMIN).status_code == 200
    assert "redoc" in client.get("/docs", auth=ADMIN).text.lower()
    assert client.get("/openapi.json", auth=ADMIN).json()["info"]["title"] == "fastapi-example"


def test_schema_documents_the_bearer_scheme_and_the_version_header(client):
    schema = client.get("/openapi.json", auth=ADMIN).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The access token from POST /auth/token",
    }
    for path, method in (("/auth/me", "get"), ("/items/{item_id}", "patch"), ("/users", "post")):
        operation = schema["paths"][path][method]
        assert operation["security"] == [{"HTTPBearer": []}]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert headers == ["x-version"]
    assert "security" not in schema["paths"]["/auth/token"]["post"]
    secured = {
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "security" in operation
    }
    assert secured == {
        *("GET /auth/me", "POST /auth/logout"),
        *("GET /users", "POST /users", "GET /users/{user_id}"),
        *("PATCH /users/{user_id}", "DELETE /users/{user_id}"),
        *("GET /items", "POST /items", "GET /items/{item_id}"),
        *("PATCH /items/{item_id}", "DELETE /items/{item_id}"),
    }


@pytest.mark.parametrize(
    ("access", "user_status", "anon_status"), [("users", 200, 401), ("public", 200, 200)]
)
def test_docs_access_setting(api_settings, new_account, access, user_status, anon_status):
    account = new_account()
    with TestClient(create_app(api_settings.model_copy(update={"docs_access": access}))) as c:
        assert c.get("/openapi.json", auth=(account.username, account.password)).status_code == (
            user_status
        )
        assert c.get("/openapi.json").status_code == anon_status


def test_root_redirects_to_docs(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/docs"


def test_logo_is_served(client):
    response = client.get("/logo.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


LOGO_SIZE = (PACKAGE_DIR / "static" / "logo.png").stat().st_size


@pytest.mark.parametrize(
    ("range_header", "status", "detail"),
    [
        ("garbage", 400, "Malformed Range header"),
        ("bytes=", 400, "Malformed Range header"),
        ("bytes=5-1", 400, "Malformed Range header"),
        ("items=0-1", 400, "Malformed Range header"),
        ("bytes=a-b", 400, "Malformed Range header"),
        ("bytes=\udcff-1", 400, "Malformed Range header"),
        (f"bytes={LOGO_SIZE}-", 416, "Range not satisfiable"),
        ("bytes=99999999999999999999999-", 416, "Range not satisfiable"),
    ],
)
def test_a_range_the_static_files_cannot_serve_is_a_json_error(
    client, range_header, status, detail
):
    raw = range_header.encode("utf-8", "surrogateescape")
    response = client.get("/logo.png", headers={"Range": raw})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": detail}
    assert int(response.headers["content-length"]) == len(response.content)
    if status == 416:  # what the client needs to ask again
        assert response.headers["content-range"] == f"bytes */{LOGO_SIZE}"


def test_a_range_of_a_static_file_is_still_served(client):
    whole = client.get("/logo.png").content
    response = client.get("/logo.png", headers={"Range": "bytes=1-4"})
    assert response.status_code == 206
    assert response.content == whole[1:5]
    assert response.headers["content-range"] == f"bytes 1-4/{LOGO_SIZE}"


def test_a_method_a_path_does_not_take_is_405_with_its_methods(client, admin_headers):
    for template, operations in client.app.openapi()["paths"].items():
        path = template.format(item_id=1, user_id=1, role_id=1)
        response = client.options(path, headers=admin_headers)
        assert response.status_code == 405, path
        documented = {method.upper() for method in operations}
        assert set(response.headers["allow"].split(", ")) == documented, path
        if "GET" in documented:  # and Allow is true: FastAPI's GET routes take no HEAD
            assert client.head(path, headers=admin_headers).status_code == 405, path


def test_probes(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_while_draining(client):
    client.app.state.draining = True
    try:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["detail"]
    finally:
        client.app.state.draining = False


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/no-such-path"), ("DELETE", "/roles"), ("POST", "/logo.png"), ("GET", "/items/x")],
)
def test_errors_are_json(client, admin_headers, method, path):
    response = client.request(method, path, headers=admin_headers)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/json"
    assert "detail" in response.json()


def test_malformed_json_body_is_422(client, admin_headers):
    response = client.post(
        "/items",
        content=b"{not json",
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
