"""Users: read, list, create and change; their password hashes for login."""

from typing import Any

from fastapi_example.data.paging import Filters, counted_page
from fastapi_example.db import Connection, Database, Row
from fastapi_example.models import ADMIN_ROLE_ID, UserQuery, username_key, utcnow

# UserPublic's fields, in its order.
COLUMNS = "username, id, role_id, activated, created_at, updated_at"
CHANGEABLE = ("username", "username_key", "hashed_password", "role_id", "activated")


async def read_user(db: Database, user_id: int) -> Row | None:
    return await db.fetch_one(
        "SELECT username, id, role_id, activated, created_at, updated_at FROM users WHERE id = ?",
        user_id,
    )


async def lock_user(tx: Connection, user_id: int) -> Row | None:
    """The user's row, its password hash included, locked until the transaction ends."""
    return await tx.fetch_one(
        "SELECT username, id, role_id, activated, created_at, updated_at, hashed_password"
        " FROM users WHERE id = ? FOR UPDATE",
        user_id,
    )


async def user_by_name(db: Database, username: str) -> Row | None:
    """The user of this name (compared by its key: any case, any compatibility form), its
    password hash included."""
    key = username_key(username)
    user = await db.fetch_one(
        "SELECT id, username, username_key, hashed_password, role_id, activated FROM users"
        " WHERE username_key = ?",
        key,
    )
    # MySQL compares with PAD SPACE: "admin " would find "admin".
    return user if user is not None and user.pop("username_key") == key else None


async def list_users(db: Database, query: UserQuery) -> tuple[int, list[Row]]:
    """(how many match, the page): the username filtered by substring, any case."""
    filters = Filters()
    filters.contains("username", query.username)
    filters.equals("activated", query.activated)
    return await counted_page(db, COLUMNS, "users", filters, query.page, query.limit)


async def create_user(db: Database, username: str, role_id: int, hashed_password: str) -> Row:
    """The new user; db.UniqueViolation if the username is taken."""
    now = utcnow()
    user_id = await db.insert(
        "INSERT INTO users (username, username_key, hashed_password, role_id, activated,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        username,
        username_key(username),
        hashed_password,
        role_id,
        True,
        now,
        now,
    )
    return {"username": username, "id": user_id, "role_id": role_id, "activated": True,
            "created_at": now, "updated_at": now}  # fmt: skip


async def update_user(tx: Connection, user_id: int, changes: dict[str, Any]) -> None:
    """Set the given columns (of CHANGEABLE) and updated_at, and a new username's key;
    db.UniqueViolation if the new username is taken."""
    if "username" in changes:
        changes = {**changes, "username_key": username_key(changes["username"])}
    columns = [column for column in CHANGEABLE if column in changes]
    assignments = ", ".join(f"{column} = ?" for column in [*columns, "updated_at"])
    await tx.execute(
        f"UPDATE users SET {assignments} WHERE id = ?",  # noqa: S608 - column names are constants
        *(changes[column] for column in columns),
        utcnow(),
        user_id,
    )


async def lock_active_admins(tx: Connection) -> list[int]:
    """The active admins' ids, their rows locked until the transaction ends."""
    rows = await tx.fetch_all(
        "SELECT id FROM users WHERE role_id = ? AND activated = ? ORDER BY id FOR UPDATE",
        ADMIN_ROLE_ID,
        True,
    )
    return [row["id"] for row in rows]


async def upgrade_password_hash(db: Database, user_id: int, old_hash: str, new_hash: str) -> bool:
    """A hash upgraded at login (an older scheme or setting), unless the password changed
    since `old_hash` was read: then False, and the change stands."""
    changed = await db.execute(
        "UPDATE users SET hashed_password = ? WHERE id = ? AND hashed_password = ?",
        new_hash,
        user_id,
        old_hash,
    )
    return changed == 1
