"""The tables (SQLModel) and the API's shapes of each resource (XCreate / XUpdate / XPublic).

The shapes the API reads and answers are pydantic models: SQLModel runs its own __init__
for every instance it validates, which made a page of 20 items cost a quarter more
(docs/decisions/0007-pydantic-schemas.md). They keep the tables' field names and limits.
"""

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated

import pydantic
from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError
from sqlalchemy import BigInteger, Column, ForeignKey, Integer, event
from sqlmodel import Field, SQLModel

from fastapi_example.item_text import (
    DESCRIPTION_PATTERN,
    NAME_PATTERN,
    plain_description,
    plain_name,
)
from fastapi_example.names import checked_username, username_key

# Binary collation: "ADMIN" and "àdmin" are not "admin" on MySQL either. It still pads with
# spaces ("admin " = "admin"), so names cannot end in spaces and lookups recheck in Python.
TABLE_ARGS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
MAX_ID = 2_147_483_647  # INT columns
MAX_VERSION_LENGTH = 20
MAX_PASSWORD_LENGTH = 128


def utcnow() -> datetime:
    """Aware UTC; a MySQL DATETIME holds it without the offset and SQLModel restores it."""
    return datetime.now(UTC)


def _storable(value: str) -> str:
    # Lone surrogates cannot be encoded for the database; NUL is refused by drivers and logs.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]
# A new name: NFKC, 3-30 characters of the alphabet names.py documents.
Username = Annotated[
    str,
    StringConstraints(min_length=1, max_length=60),
    AfterValidator(_storable),
    AfterValidator(checked_username),
]


def _name_length(value: str) -> str:
    # In NFKC, as a new name is counted: a name typed decomposed (NFD, as some keyboards
    # send it) is longer than the name; or as it is, for one stored before the alphabet.
    if 3 <= len(unicodedata.normalize("NFKC", value)) <= 30 or 3 <= len(value) <= 30:
        return value
    raise ValueError("must be 3 to 30 characters long")


# A name to log in with: any a user may have had before the alphabet (names.py), compared
# by its key; no leading or trailing space (MySQL would ignore a trailing one).
LoginUsername = Annotated[
    str,
    StringConstraints(min_length=1, max_length=60, pattern=r"^\S(.*\S)?$"),
    AfterValidator(_storable),
    AfterValidator(_name_length),
]
Password = Annotated[
    str, StringConstraints(min_length=8, max_length=MAX_PASSWORD_LENGTH), AfterValidator(_storable)
]
LoginPassword = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PASSWORD_LENGTH)]
ItemName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(_storable),
    AfterValidator(plain_name),
    pydantic.Field(json_schema_extra={"pattern": NAME_PATTERN}),
]
Description = Annotated[
    str,
    StringConstraints(max_length=1000),
    AfterValidator(_storable),
    AfterValidator(plain_description),
    pydantic.Field(json_schema_extra={"pattern": DESCRIPTION_PATTERN}),
]
DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


def _decimal(value: object) -> object:
    """A path or query number (text) in plain decimal digits, as it is written back: not
    1.0, +1, " 1", 1_000 nor 01, which int() would take for 1."""
    if isinstance(value, str) and not DECIMAL.fullmatch(value):
        raise PydanticCustomError("int_parsing", "Input should be an integer in decimal digits")
    return value


# In a path or a query its text must be decimal digits; in a body (a Body model, strict)
# it must be a JSON integer: not 1.0, "1" nor true. The bounds come before the digits'
# check: after a BeforeValidator pydantic still enforces them but writes them in the
# OpenAPI as "ge" and "le", which JSON Schema does not know, so clients read no bounds at
# all (schemathesis sent ids past MAX_ID as valid ones).
Id = Annotated[int, Ge(1), Le(MAX_ID), BeforeValidator(_decimal)]
MAX_PAGE = MAX_ID
Page = Annotated[int, Ge(1), Le(MAX_PAGE), BeforeValidator(_decimal)]
Limit = Annotated[int, Ge(1), Le(100), BeforeValidator(_decimal)]
# A list filter's text: a case-insensitive substring.
Filter = (
    Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_storable)]
    | None
)

ADMIN_ROLE_ID = 1
USER_ROLE_ID = 2


class Body(BaseModel):
    """A request body: every field takes its JSON type only. Lax pydantic would take 1.0
    or true for an id, "yes" or 1 for a flag: a request that means something else."""

    model_config = ConfigDict(strict=True)


class Role(SQLModel, table=True):
    __tablename__ = "roles"
    __table_args__ = TABLE_ARGS
    id: int = Field(primary_key=True)
    name: str = Field(max_length=30, unique=True)


class RolePublic(BaseModel):
    id: int
    name: str


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = TABLE_ARGS
    username: str = Field(max_length=30, unique=True)
    # The name as compared (names.username_key): one user per name whatever its case.
    username_key: str | None = Field(default=None, max_length=120, unique=True, index=True)
    id: int | None = Field(default=None, primary_key=True)
    hashed_password: str = Field(max_length=255)
    role_id: int = Field(foreign_key="roles.id")
    activated: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role_id == ADMIN_ROLE_ID


@event.listens_for(User, "before_insert")
@event.listens_for(User, "before_update")
def _key_the_username(_mapper, _connection, user: User) -> None:
    """Users written through the ORM (migrate's seed, the break-glass) get their key too;
    the API's own SQL writes it itself (data/users.py)."""
    user.username_key = username_key(user.username)


class UserCreate(Body):
    username: Username
    role_id: Id = USER_ROLE_ID
    password: Password | None = pydantic.Field(
        default=None, description="Leave out to have a password generated and returned once"
    )


class UserUpdate(Body):
    # Leave a field out to keep it; none of them can be null.
    username: Username = pydantic.Field(default=None)
    password: Password = pydantic.Field(default=None)
    current_password: LoginPassword = pydantic.Field(
        default=None, description="Your current password: needed to change your own password"
    )
    role_id: Id = pydantic.Field(default=None)
    activated: bool = pydantic.Field(default=None)


class UserPublic(BaseModel):
    username: str = pydantic.Field(max_length=30)
    id: int
    role_id: int
    activated: bool
    created_at: datetime
    updated_at: datetime


class UserCreated(UserPublic):
    password: str | None = pydantic.Field(
        default=None, description="The generated password, shown only this once"
    )


class ListQuery(BaseModel):
    """A list route's query: the page, the limit and, in a subclass, the filters."""

    page: Page = 1
    limit: Limit = 20


class UserQuery(ListQuery):
    username: Filter = None
    activated: bool | None = None


class UsersPage(BaseModel):
    page: int
    limit: int
    total: int
    users: list[UserPublic]


class Item(SQLModel, table=True):
    __tablename__ = "items"
    __table_args__ = TABLE_ARGS
    name: str = Field(max_length=100, unique=True)
    description: str | None = Field(default=None, max_length=1000)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RowCount(SQLModel, table=True):
    """A table's row count, changed in the same transaction as its rows (items only).

    InnoDB counts rows by reading them all, so an unfiltered list would cost O(n) per page.
    `migrate` recounts, which also covers rows loaded from outside the API.
    """

    __tablename__ = "row_counts"
    __table_args__ = TABLE_ARGS
    table_name: str = Field(max_length=64, primary_key=True)
    total: int = Field(sa_column=Column(BigInteger, nullable=False))


class ItemCreate(Body):
    name: ItemName
    description: Description | None = None


class ItemUpdate(Body):
    name: ItemName = pydantic.Field(default=None, description="Leave out to keep the name")
    description: Description | None = pydantic.Field(default=None, description="null clears it")


class ItemPublic(BaseModel):
    name: str = pydantic.Field(max_length=100)
    description: str | None = pydantic.Field(default=None, max_length=1000)
    id: int
    user_id: int
    created_at: datetime
    updated_at: datetime


class ItemQuery(ListQuery):
    name: Filter = None
    description: Filter = None


class ItemsPage(BaseModel):
    page: int
    limit: int
    total: int
    items: list[ItemPublic]


class Token(SQLModel, table=True):
    """One session (device): the digests of its access and refresh tokens."""

    __tablename__ = "tokens"
    __table_args__ = TABLE_ARGS
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    )
    access_token_hash: str = Field(max_length=64, unique=True)
    access_expires_at: datetime
    refresh_token_hash: str = Field(max_length=64, unique=True)
    refresh_expires_at: datetime = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)


class RotatedRefreshToken(SQLModel, table=True):
    """A refresh token already exchanged: presenting it again revokes its session."""

    __tablename__ = "rotated_refresh_tokens"
    __table_args__ = TABLE_ARGS
    refresh_token_hash: str = Field(max_length=64, primary_key=True)
    token_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    expires_at: datetime = Field(index=True)  # the cleanup job deletes by it, in batches
    # When it was exchanged, and the salt its successors were made with (data/sessions.py):
    # presented again within the grace period it gets the same successors.
    rotated_at: datetime | None = None
    salt: str | None = Field(default=None, max_length=32)


class LoginRequest(Body):
    username: LoginUsername
    password: LoginPassword


class RefreshRequest(Body):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenPair(BaseModel):
    id: int = pydantic.Field(description="The user's id")
    access_token: str
    expires: int = pydantic.Field(description="Access token lifetime in seconds")
    refresh_token: str


class Version(SQLModel, table=True):
    __tablename__ = "versions"
    __table_args__ = TABLE_ARGS
    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=MAX_VERSION_LENGTH, unique=True)
    supported: bool


class VersionPublic(BaseModel):
    id: int
    version: str
    supported: bool


class LoginThrottle(SQLModel, table=True):
    """A counter of failed logins (data/login_throttle.py): per username, per client
    address, or per both, keyed by a digest."""

    __tablename__ = "login_throttle"
    __table_args__ = TABLE_ARGS
    bucket: str = Field(max_length=64, primary_key=True)
    failures: int
    window_started: datetime = Field(index=True)
