"""The API suite runs twice: on SQLite and on MariaDB (a fresh database per run), in a random
order (SERVICE_TESTS_SEED=<n> repeats one): no test may depend on what another left behind."""

import asyncio
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_example.cli import migrate
from fastapi_example.db import Database
from fastapi_example.main import create_app
from fastapi_example.settings import Settings
from tests.support import mariadb

ADMIN = ("admin", "admin-test-password")
SEED = int(os.environ.get("SERVICE_TESTS_SEED") or random.SystemRandom().randrange(2**32))
HERE = Path(__file__).resolve().parent


def pytest_report_collectionfinish() -> str:
    # After collection, not in the header: pytest reads the header only from the
    # conftest files of the root folder, and `pytest` from there loads this one later.
    return f"tests/service in random order: SERVICE_TESTS_SEED={SEED} repeats it"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Shuffle this folder's tests: the modules' order, and the tests' within each module.
    It runs before pytest's own reordering, which then groups the tests by their session and
    module fixtures' parameters (each database set up once) keeping this order otherwise."""
    shuffle = random.Random(SEED)
    places = [i for i, item in enumerate(items) if HERE in Path(item.path).resolve().parents]
    modules: dict[Path, list[pytest.Item]] = {}
    for i in places:
        modules.setdefault(Path(items[i].path), []).append(items[i])
    order = list(modules.values())
    shuffle.shuffle(order)
    for tests in order:
        shuffle.shuffle(tests)
    for place, item in zip(places, (item for tests in order for item in tests), strict=True):
        items[place] = item


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


def run_on_database(api_settings: Settings, scenario, **settings):
    """scenario(database) on a fresh Database of the suite's backend, disposed of after."""
    database = Database(api_settings.model_copy(update=settings))

    async def main():
        await database.start()
        try:
            return await scenario(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


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
def admin_session(client) -> dict[str, dict[str, str]]:
    return {"headers": bearer(login(client, *ADMIN))}


def live_admin_headers(client: TestClient, admin_session: dict) -> dict[str, str]:
    """The admin's bearer header, logged in again when a test ended that session (tests that
    log the admin in push the oldest session out under MAX_SESSIONS_PER_USER)."""
    if client.get("/auth/me", headers=admin_session["headers"]).status_code != 200:
        admin_session["headers"] = bearer(login(client, *ADMIN))
    return admin_session["headers"]


@pytest.fixture
def admin_headers(client, admin_session) -> dict[str, str]:
    return live_admin_headers(client, admin_session)


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
def new_account(client, admin_session):
    return lambda role_id=2: Account(client, live_admin_headers(client, admin_session), role_id)
