"""The API suite runs twice: on SQLite and on MariaDB (a fresh database per run)."""

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from fastapi_example.cli import migrate
from fastapi_example.main import create_app
from fastapi_example.settings import Settings
from tests.support import mariadb

ADMIN = ("admin", "admin-test-password")


def make_settings(database: str | None, tmp_dir, **overrides) -> Settings:
    """Settings for a test app: SQLite file in tmp_dir, or the given MariaDB database."""
    values = dict(
        admin_username=ADMIN[0],
        admin_password=ADMIN[1],
        metrics_port=0,
        log_level="INFO",
        database_url=f"sqlite:///{tmp_dir}/api.db",
        db_host="",
        versions_cache_seconds=0,
        # Every test's in-process client has one address ("testclient"): the per-address
        # counter would add up failures of unrelated tests (test_login_throttle tests it).
        login_max_failures_per_address=1_000_000,
    )
    if database is not None:
        env = mariadb.settings_env(database)
        values.update(
            db_host=env["DB_HOST"],
            db_port=int(env["DB_PORT"]),
            db_name=database,
            db_user=env["DB_USER"],
            db_password=env["DB_PASSWORD"],
        )
    values.update(overrides)
    return Settings(**values)


def migrated(settings: Settings) -> Settings:
    migrate(settings)  # what `fastapi-example migrate` does
    return settings


@pytest.fixture(scope="session", params=["sqlite", "mariadb"])
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def api_settings(backend, tmp_path_factory) -> Iterator[Settings]:
    tmp = tmp_path_factory.mktemp(backend)
    if backend == "sqlite":
        yield migrated(make_settings(None, tmp))
    else:
        with mariadb.fresh_database() as name:
            yield migrated(make_settings(name, tmp))


@pytest.fixture(scope="session")
def client(api_settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as test_client:
        yield test_client


def unique(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def login(client: TestClient, username: str, password: str) -> dict:
    response = client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture(scope="session")
def admin_headers(client) -> dict[str, str]:
    return bearer(login(client, *ADMIN))


class Account:
    """A user created through the API, logged in once."""

    def __init__(self, client: TestClient, admin_headers: dict, role_id: int = 2):
        self.username, self.password = unique(), "pw-" + uuid.uuid4().hex
        response = client.post(
            "/users",
            json={"username": self.username, "password": self.password, "role_id": role_id},
            headers=admin_headers,
        )
        assert response.status_code == 201, response.text
        self.id = response.json()["id"]
        self.tokens = login(client, self.username, self.password)
        self.headers = bearer(self.tokens)


@pytest.fixture
def new_account(client, admin_headers):
    return lambda role_id=2: Account(client, admin_headers, role_id)
