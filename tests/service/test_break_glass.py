"""`migrate --restore-admin`: an admin locked out (disabled, demoted, password lost) gets
access back from ADMIN_USERNAME/ADMIN_PASSWORD, and no data is lost."""

import subprocess
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from fastapi_example.db import make_engine
from fastapi_example.main import create_app
from tests.service.conftest import ADMIN, bearer, login, make_settings, migrated
from tests.support import mariadb
from tests.support.api_process import COMMAND
from tests.support.tools import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "mariadb"])
def settings(request, tmp_path):
    if request.param == "sqlite":
        yield migrated(make_settings(None, tmp_path))
        return
    with mariadb.fresh_database() as name:
        yield migrated(make_settings(name, tmp_path))


def environment(settings) -> dict[str, str]:
    names = ("database_url", "db_host", "db_port", "db_name", "db_user", "db_password")
    env = {name.upper(): str(getattr(settings, name)) for name in names}
    return {**env, "ADMIN_USERNAME": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1], "PATH": "/usr/bin"}


def test_restore_admin_gives_access_back_and_keeps_the_data(settings):
    item = f"kept-{uuid.uuid4().hex[:8]}"
    with TestClient(create_app(settings)) as client:
        admin = login(client, *ADMIN)
        assert client.post("/items", json={"name": item}, headers=bearer(admin)).status_code == 201
        user = {"username": f"u{uuid.uuid4().hex[:8]}", "password": "a-user-password"}
        assert client.post("/users", json=user, headers=bearer(admin)).status_code == 201
    engine = make_engine(settings)
    with Session(engine) as db:  # locked out by hand: disabled, demoted, another password
        db.exec(
            text(
                "UPDATE users SET activated = :no, role_id = 2, hashed_password = 'x'"
                " WHERE username = :name"
            ),
            params={"no": False, "name": ADMIN[0]},
        )
        db.commit()
    engine.dispose()

    assert ADMIN[1] not in restore(settings)

    with TestClient(create_app(settings)) as client:
        assert client.get("/auth/me", headers=bearer(admin)).status_code == 401  # sessions ended
        headers = bearer(login(client, *ADMIN))
        me = client.get("/auth/me", headers=headers).json()
        assert me["role_id"] == 1 and me["activated"] is True
        names = [i["name"] for i in client.get("/items", headers=headers).json()["items"]]
        assert item in names
        login(client, user["username"], user["password"])


def restore(settings) -> str:
    """`migrate --restore-admin` with the admin's environment; what it wrote."""
    done = subprocess.run(
        [*COMMAND, "migrate", "--restore-admin"],
        env=environment(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_restore_admin_finds_the_admin_by_the_name_as_compared(settings):
    """The admin renamed itself ADMIN: ADMIN_USERNAME=admin names it (logins agree), and
    the restore gives it access back instead of failing on the unique name."""
    engine = make_engine(settings)
    with Session(engine) as db:
        db.exec(
            text("UPDATE users SET username = 'ADMIN', activated = :no WHERE username = :name"),
            params={"no": False, "name": ADMIN[0]},
        )
        db.commit()
    engine.dispose()
    restore(settings)
    with TestClient(create_app(settings)) as client:
        me = client.get("/auth/me", headers=bearer(login(client, *ADMIN))).json()
        assert (me["username"], me["role_id"], me["activated"]) == ("ADMIN", 1, True)
