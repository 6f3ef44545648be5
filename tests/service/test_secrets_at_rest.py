"""After a flow through every secret-handling route, no token is at rest anywhere (database
or logs) and no password is in the logs."""

import base64
import hashlib
import json
import uuid

import pytest
from sqlalchemy import MetaData, create_engine, select

from tests.support import mariadb
from tests.support.api_process import ADMIN, served

pytestmark = pytest.mark.slow


# No grace period: the flow's reuse of an exchanged refresh token ends its session at once.
SETTINGS = {"LOGIN_MAX_FAILURES": "3", "REFRESH_GRACE_SECONDS": "0"}


@pytest.fixture(params=["sqlite", "mariadb"])
def api(request, tmp_path):
    if request.param == "sqlite":
        with served(tmp_path, **SETTINGS) as api:
            api.url_for_db = f"sqlite:///{tmp_path}/api.db"
            yield api
        return
    with mariadb.fresh_database() as name, served(tmp_path, name, **SETTINGS) as api:
        api.url_for_db = f"mysql+pymysql://{mariadb.USER}:{mariadb.PASSWORD}@{mariadb.HOST}:{mariadb.PORT}/{name}"
        yield api


class Flow:
    """Calls the API and remembers every token it was given and every password it sent."""

    def __init__(self, client):
        self.client = client
        self.tokens: list[str] = []
        self.passwords: list[str] = [ADMIN[1]]

    def secret(self, prefix: str) -> str:
        password = f"{prefix}-{uuid.uuid4().hex}"
        self.passwords.append(password)
        return password

    def keep(self, response, status: int) -> dict:
        assert response.status_code == status, response.text
        body = response.json() if response.content else {}
        for key in ("access_token", "refresh_token"):
            if key in body:
                self.tokens.append(body[key])
        return body

    def login(self, username: str, password: str, status: int = 200) -> dict:
        body = {"username": username, "password": password}
        return self.keep(self.client.post("/auth/token", json=body), status)


def run_flow(flow: Flow) -> dict:
    """Returns a session that is still live at the end."""
    client = flow.client
    admin = flow.login(*ADMIN)
    flow.login(*ADMIN)  # a second device
    as_admin = {"Authorization": f"Bearer {admin['access_token']}"}

    generated = flow.keep(
        client.post("/users", json={"username": f"gen{uuid.uuid4().hex[:8]}"}, headers=as_admin),
        201,
    )
    flow.passwords.append(generated["password"])
    given = flow.secret("given")
    user = flow.keep(
        client.post(
            "/users",
            json={"username": f"giv{uuid.uuid4().hex[:8]}", "password": given},
            headers=as_admin,
        ),
        201,
    )

    first = flow.login(generated["username"], generated["password"])
    second = flow.keep(
        client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 200
    )
    # Reusing the exchanged refresh token ends that session.
    flow.keep(client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
    me = client.get("/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 401

    session = flow.login(user["username"], given)
    as_user = {"Authorization": f"Bearer {session['access_token']}"}
    flow.keep(client.post("/auth/logout", headers=as_user), 204)
    session = flow.login(user["username"], given)
    as_user = {"Authorization": f"Bearer {session['access_token']}"}
    new_password = flow.secret("changed")
    change = {"password": new_password, "current_password": given}
    flow.keep(client.patch(f"/users/{user['id']}", json=change, headers=as_user), 200)
    live = flow.login(user["username"], new_password)

    # Failed logins until throttled, with a wrong password each time.
    for _ in range(3):
        flow.login(user["username"], flow.secret("wrong"), status=401)
    flow.login(user["username"], flow.secret("wrong"), status=429)
    flow.login("nobody-by-that-name", flow.secret("unknown"), status=401)

    # Validation errors with a password in the body.
    flow.login("ab", flow.secret("invalid-user"), status=422)
    body = {
        "username": f"v{uuid.uuid4().hex[:8]}",
        "password": flow.secret("bad-role"),
        "role_id": "x",
    }
    flow.keep(client.post("/users", json=body, headers=as_admin), 422)
    flow.keep(
        client.post(
            "/users", json={"username": "x", "password": flow.secret("short-u")}, headers=as_admin
        ),
        422,
    )

    # Basic auth on the docs; a garbage bearer token.
    basic = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
    assert (
        client.get("/openapi.json", headers={"Authorization": f"Basic {basic}"}).status_code == 200
    )
    garbage = f"garbage-{uuid.uuid4().hex}"
    flow.tokens.append(garbage)
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {garbage}"}).status_code == 401
    return live


def dump_database(url: str) -> str:
    engine = create_engine(url)
    try:
        lines = []
        with engine.connect() as connection:
            tables = MetaData()
            tables.reflect(connection)
            for table in tables.sorted_tables:
                for row in connection.execute(select(table)):
                    lines.append(f"{table.name}: " + " | ".join(str(value) for value in row))
        return "\n".join(lines)
    finally:
        engine.dispose()


def test_no_token_at_rest_and_no_password_in_the_logs(api):
    with api.client() as client:
        flow = Flow(client)
        live = run_flow(flow)
    assert len(flow.tokens) > 10
    database = dump_database(api.url_for_db)
    logs = api.log_text()

    # The dump and the logs are real: the last session's digest is stored, requests were logged.
    assert hashlib.sha256(live["refresh_token"].encode()).hexdigest() in database
    routes = {json.loads(line).get("route") for line in logs.splitlines() if line.startswith("{")}
    assert "/auth/token" in routes
    for token in flow.tokens:
        assert token not in database
        assert token not in logs
    for password in flow.passwords:
        assert password not in logs
        assert password not in database
