"""`migrate`: wait for the database, lock, upgrade the schema, seed. Idempotent."""

import json
import logging
import re
import time
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, select

from fastapi_example.counts import recount
from fastapi_example.models import (
    ADMIN_ROLE_ID,
    MAX_PASSWORD_LENGTH,
    MAX_VERSION_LENGTH,
    USER_ROLE_ID,
    Role,
    User,
    Version,
)
from fastapi_example.names import checked_username, username_key
from fastapi_example.security import hash_password
from fastapi_example.settings import PACKAGE_DIR, Settings

log = logging.getLogger(__name__)
LOCK_NAME = "fastapi_example_migrate"
LOCK_TIMEOUT_SECONDS = 300
LOCK_STEP_SECONDS = 5
# A schema change on a large table, or one waiting for a long transaction to end with the
# table, may take many minutes; a server that froze still ends a migrate within the hour.
STATEMENT_TIMEOUT_SECONDS = 3600
CREATE_TIMEOUT_SECONDS = 60
VERSION_PATTERN = re.compile(rf"[0-9A-Za-z][0-9A-Za-z.+-]{{0,{MAX_VERSION_LENGTH - 1}}}")


# MySQL errors that waiting does not cure: the server answered and refused.
ACCESS_DENIED, DATABASE_ACCESS_DENIED, UNKNOWN_DATABASE = 1045, 1044, 1049


def mysql_error(error: OperationalError) -> tuple[int | None, str]:
    cause = error.orig
    code = cause.args[0] if cause is not None and cause.args else None
    return (code if isinstance(code, int) else None), f"{type(cause).__name__}: {cause}"


def create_database(engine: Engine) -> None:
    """CREATE DATABASE for a server that has none of that name, when the user may; else a
    plain error instead of waiting for a database nobody will create."""
    name, user = engine.url.database, engine.url.username
    # The server without a database ("": None would keep the URL's), its answers awaited
    # for a bounded time (pymysql's default is to wait forever).
    server = create_engine(
        engine.url.set(database=""),
        poolclass=NullPool,
        connect_args={
            "read_timeout": CREATE_TIMEOUT_SECONDS,
            "write_timeout": CREATE_TIMEOUT_SECONDS,
        },
    )
    try:
        with server.connect() as connection:
            connection.execute(
                text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
            )
    except OperationalError as error:
        raise RuntimeError(
            f"database {name!r} does not exist on {engine.url.host} and user {user!r} may not "
            f"create it ({mysql_error(error)[1]}): create it, or set DB_NAME to one that exists"
        ) from None
    finally:
        server.dispose()
    log.info("created the database", extra={"database": name})


def wait_for_database(engine: Engine, seconds: int, create: bool = False) -> None:
    """Wait at most `seconds` for the database to answer (DB_WAIT_SECONDS says why); `create`
    makes a database the server does not have (migrate's part alone)."""
    deadline, delay = time.monotonic() + seconds, 0.5
    while True:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return
        except OperationalError as error:
            code, reason = mysql_error(error)
            if code == UNKNOWN_DATABASE and create:
                create_database(engine)
                create = False
                continue
            if code in (ACCESS_DENIED, DATABASE_ACCESS_DENIED, UNKNOWN_DATABASE):
                url = engine.url
                raise RuntimeError(
                    f"user {url.username!r} cannot use database {url.database!r} on {url.host} "
                    f"({reason}): check DB_USER, DB_PASSWORD and DB_NAME, and that the database "
                    "exists with the user granted on it"
                ) from None
            if time.monotonic() + delay > deadline:
                raise
            log.info("waiting for the database", extra={"retry_in_s": delay, "error": reason})
            time.sleep(delay)
            delay = min(delay * 2, 5)


@contextmanager
def migration_lock(connection: Connection):
    """MySQL's GET_LOCK, so replicas' initContainers never migrate at the same time."""
    if connection.dialect.name != "mysql":
        yield
        return
    # Asked for in short waits: one long GET_LOCK would outlast the driver's read timeout
    # and end as a lost connection while another migrate still holds the lock.
    ask = text("SELECT GET_LOCK(:name, :seconds)")
    asked = time.monotonic()
    while connection.execute(ask, {"name": LOCK_NAME, "seconds": LOCK_STEP_SECONDS}).scalar() != 1:
        waited = time.monotonic() - asked
        if waited >= LOCK_TIMEOUT_SECONDS:
            raise RuntimeError(
                f"another migrate held the migration lock for {LOCK_TIMEOUT_SECONDS} s"
            )
        log.info("waiting for the migration lock", extra={"waited_s": round(waited)})
    connection.commit()
    log.info("took the migration lock", extra={"waited_s": round(time.monotonic() - asked, 1)})
    try:
        yield
    finally:
        connection.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK_NAME})
        connection.commit()


def upgrade_schema(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    connection.commit()


def load_versions(path: Path) -> dict[str, bool]:
    """VERSIONS_FILE's versions, each one a client can send as X-Version (the chart's
    values schema has the same rule): anything else is refused, not stored."""
    versions = {}
    for entry in json.loads(path.read_text()):
        version, supported = entry["version"], entry["supported"]
        if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
            raise ValueError(
                f"VERSIONS_FILE: {version!r} is not a version: 1 to {MAX_VERSION_LENGTH} "
                "letters, digits and . + - (starting with a letter or a digit)"
            )
        if not isinstance(supported, bool):
            raise ValueError(f"VERSIONS_FILE: {version}'s supported must be true or false")
        versions[version] = supported
    return versions


def seed(session: Session, settings: Settings) -> None:
    """Roles, the versions table (mirrors VERSIONS_FILE) and the first admin."""
    for role_id, name in ((ADMIN_ROLE_ID, "admin"), (USER_ROLE_ID, "user")):
        if session.get(Role, role_id) is None:
            session.add(Role(id=role_id, name=name))
    wanted = load_versions(settings.versions_file)
    for row in session.exec(select(Version)).all():
        if row.version not in wanted:
            session.delete(row)
        else:
            row.supported = wanted.pop(row.version)
            session.add(row)
    session.add_all(Version(version=v, supported=s) for v, s in wanted.items())
    session.flush()
    seed_first_admin(session, settings)
    session.commit()


def seed_first_admin(session: Session, settings: Settings) -> None:
    """ADMIN_USERNAME as the first admin, on a database that has no admin yet.

    Only then: migrate runs at every start, and an admin that renamed itself must not find
    ADMIN_USERNAME back with the deployment's password. Access lost later comes back through
    `migrate --restore-admin` (break_glass.py), never by itself."""
    if session.exec(select(User.id).where(User.role_id == ADMIN_ROLE_ID)).first() is not None:
        return
    # By the name as compared: "Admin" is the "admin" ADMIN_USERNAME names.
    key = username_key(settings.admin_username)
    if session.exec(select(User.id).where(User.username_key == key)).first() is not None:
        log.warning(
            "no admin, and ADMIN_USERNAME names a user that is not one: "
            "`fastapi-example migrate --restore-admin` makes it the admin"
        )
        return
    admin = new_admin(settings)
    session.add(admin)
    log.info("created the first admin", extra={"username": admin.username})


def new_admin(settings: Settings) -> User:
    """A user named ADMIN_USERNAME, held to the rules of any new name (names.py): a name the
    API refuses at login would make an admin nobody can be."""
    try:
        username = checked_username(settings.admin_username)
    except ValueError as error:
        raise ValueError(f"ADMIN_USERNAME {error}") from None
    return User(
        username=username, role_id=ADMIN_ROLE_ID, hashed_password=admin_password_hash(settings)
    )


def admin_password_hash(settings: Settings) -> str:
    """ADMIN_PASSWORD hashed, if a login can present it: the API takes no longer password."""
    if len(settings.admin_password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"ADMIN_PASSWORD must be at most {MAX_PASSWORD_LENGTH} characters long")
    return hash_password(settings.admin_password, settings.password_pepper)


def migrate(engine: Engine, settings: Settings) -> None:
    """Lock, upgrade, seed, on a database that answers (`wait_for_database` first)."""
    with engine.connect() as connection, migration_lock(connection):
        upgrade_schema(connection)
        with Session(bind=connection) as session:
            seed(session, settings)
            recount(session)
    log.info("database migrated and seeded")
