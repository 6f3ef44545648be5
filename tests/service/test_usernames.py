"""Usernames: NFKC, one user per name whatever its case, a documented alphabet (names.py),
and the migration that gives existing users their key."""

import unicodedata
import uuid

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlmodel import Session

from fastapi_example.db import make_engine
from fastapi_example.names import checked_username, username_key
from fastapi_example.settings import PACKAGE_DIR
from tests.service.conftest import login, make_settings, migrated
from tests.support import mariadb


def name() -> str:
    return f"name{uuid.uuid4().int % 10**9}"


def test_one_user_per_name_whatever_its_case_or_width(client, admin_headers):
    base = name()
    created = client.post("/users", json={"username": base.capitalize()}, headers=admin_headers)
    assert created.status_code == 201
    wide = "".join(chr(ord(c) + 0xFEE0) for c in base)  # full-width letters and digits
    for twin in (base, base.upper(), wide):
        again = client.post("/users", json={"username": twin}, headers=admin_headers)
        assert again.status_code == 409, twin
    password = created.json()["password"]
    for spelling in (base, base.upper(), wide):
        assert login(client, spelling, password)["id"] == created.json()["id"]


def test_a_name_is_kept_in_nfkc(client, admin_headers):
    wide = "\uff41\uff42\uff43" + str(uuid.uuid4().int % 10**6)
    created = client.post("/users", json={"username": wide}, headers=admin_headers)
    assert created.status_code == 201
    assert created.json()["username"] == "abc" + wide[3:]


def test_a_name_logs_in_in_the_form_it_was_created_in(client, admin_headers):
    """Its length counts in NFKC at login as at creation: a name typed decomposed (NFD) or
    with a ligature is longer or shorter as it was sent than as it is kept."""
    tag = uuid.uuid4().int
    han = chr(0x4E00 + tag % 20000)  # "ﬀ" and one Han character: two sent, three kept
    for sent in (unicodedata.normalize("NFD", "é" * 20 + str(tag % 10**6)), "\ufb00" + han):
        created = client.post("/users", json={"username": sent}, headers=admin_headers)
        assert created.status_code == 201, created.text
        assert login(client, sent, created.json()["password"])["id"] == created.json()["id"]
    for never in ("ab", "a" * 31, unicodedata.normalize("NFD", "é" * 31)):
        refused = client.post("/auth/token", json={"username": never, "password": "x"})
        assert refused.status_code == 422, never


def test_renaming_to_another_users_name_in_other_case_is_409(client, admin_headers, new_account):
    first, second = new_account(), new_account()
    renamed = client.patch(
        f"/users/{second.id}", json={"username": first.username.upper()}, headers=admin_headers
    )
    assert renamed.status_code == 409


@pytest.mark.parametrize(
    "refused",
    [
        "emoji\U0001f642",  # a symbol
        "zero\u200bwidth",  # invisible
        "soft\u00adhyphen",  # invisible
        "two words",
        "tab\there",
        "p\u0430ypal",  # Cyrillic a among Latin letters
        "\u0391lpha",  # Greek capital alpha among Latin letters
        "\u0661\u0662" + "34x",  # two numbering systems
        "\u0301accent",  # a combining mark with no letter before it
        "ab",
        "x" * 31,
        "slash/name",
        "at@name",
    ],
)
def test_names_outside_the_alphabet_are_422(client, admin_headers, refused):
    response = client.post("/users", json={"username": refused}, headers=admin_headers)
    assert response.status_code == 422, refused


@pytest.mark.parametrize(
    "accepted", ["日本語のユーザー", "Ελένη", "Zoe\u0308", "한국어", "x.y_z-9", "José", "Ἀθηνᾶ"]
)
def test_names_of_the_alphabet_are_kept(accepted):
    assert checked_username(accepted) == unicodedata.normalize("NFKC", accepted)


@pytest.fixture(params=["sqlite", "mariadb"])
def at_0005(request, tmp_path):
    """A database migrated to the revision before username keys."""

    def upgrade(settings, revision):
        engine = make_engine(settings)
        try:
            with engine.connect() as connection:
                config = Config()
                config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                connection.commit()
        finally:
            engine.dispose()

    if request.param == "sqlite":
        settings = make_settings(None, tmp_path)
        upgrade(settings, "0005")
        yield settings
        return
    with mariadb.fresh_database() as database:
        settings = make_settings(database, tmp_path)
        upgrade(settings, "0005")
        yield settings


def test_the_migration_keys_existing_users_and_the_oldest_keeps_a_shared_name(at_0005):
    engine = make_engine(at_0005)
    try:
        with Session(engine) as db:
            db.exec(text("INSERT INTO roles (id, name) VALUES (1, 'admin'), (2, 'user')"))
            for username in ("Mixed", "mixed", "MIXED", "plain"):
                db.exec(
                    text(
                        "INSERT INTO users (username, hashed_password, role_id, activated,"
                        " created_at, updated_at) VALUES (:u, 'x', 2, :yes, :t, :t)"
                    ),
                    params={"u": username, "yes": True, "t": "2026-01-01 00:00:00"},
                )
            db.commit()
        migrated(at_0005)  # to the head, seeding as `migrate` does
        with Session(engine) as db:
            keys = dict(db.exec(text("SELECT username, username_key FROM users ORDER BY id")).all())
    finally:
        engine.dispose()
    assert keys["Mixed"] == "mixed"
    assert keys["plain"] == "plain"
    # The younger twins keep their rows under a key nobody types: an admin renames them.
    assert keys["mixed"].startswith("mixed#") and keys["MIXED"].startswith("mixed#")
    assert keys["admin"] == username_key("admin")
