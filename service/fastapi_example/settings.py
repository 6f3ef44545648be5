"""Settings from the environment and, for Kubernetes, a folder of secret files."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEV_ADMIN_PASSWORD = "admin"  # noqa: S105 - the development default, refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        case_sensitive=False,
        extra="ignore",
        secrets_dir=os.environ.get("SECRETS_DIR") or None,
    )

    environment: Literal["development", "production"] = "development"

    database_url: str = "sqlite:///./fastapi-example.db"
    db_host: str = ""
    db_port: int = 3306
    db_name: str = "fastapi_example"
    db_user: str = "fastapi_example"
    db_password: str = ""
    db_connect_timeout: int = 3
    # How long migrate and the cleanup job wait for the database to answer: a server that is
    # starting, or a network policy not yet applied to a new pod, refuses them at first.
    db_wait_seconds: PositiveInt = 120
    # The longest a request's statement may take before the request gets 503 (the API's
    # statements take milliseconds; a longer one waits on a lock or a server that is gone).
    # At least 2: the server's own lock wait, whole seconds and at least one, must end first.
    db_statement_timeout: Annotated[float, Field(ge=2)] = 5.0
    db_pool_size: int = 10  # connections per process; a request waits for one when all are busy

    host: str = "127.0.0.1"
    port: int = 8080
    metrics_port: int = 8000
    forwarded_allow_ips: str = "127.0.0.1"
    # The largest request body and request head (line and headers) accepted, in bytes. The
    # routes take a few hundred bytes of JSON; an item's longest name and description, each
    # character escaped, fit in the default body limit.
    max_body_bytes: PositiveInt = 16384
    max_header_bytes: PositiveInt = 16384
    # How long a client may take to send a request's head (a connection's first, or one
    # it has begun): a head never finished would hold its connection open.
    header_timeout_seconds: PositiveFloat = 10.0
    # How long a request's body may take to arrive after its head: a body sent a byte at a
    # time would hold its request open.
    body_timeout_seconds: PositiveFloat = 10.0
    graceful_shutdown_seconds: int = 20

    admin_username: str = "admin"
    # Read by `migrate` only (the first admin, the break-glass restore): the API and the
    # cleanup job run without it. The dev admin's password in development.
    admin_password: str = ""
    password_pepper: str = ""

    max_sessions_per_user: int = 2
    access_token_minutes: int = 120
    refresh_token_days: int = 200
    # An exchanged refresh token presented again this soon gets the same new pair (a retry,
    # two tabs); later it ends the session.
    refresh_grace_seconds: NonNegativeInt = 30
    # Failed logins allowed per window (docs/api.md): per username and client address, per
    # username from any address, per address for any username (higher: many people may
    # share one address behind a NAT, and an attempt counts while it is being checked).
    login_max_failures: PositiveInt = 5
    login_max_failures_per_username: PositiveInt = 20
    login_max_failures_per_address: PositiveInt = 100
    login_window_seconds: PositiveInt = 300

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    docs_access: Literal["admin", "users", "public"] = "admin"

    versions_file: Path = PACKAGE_DIR / "seed" / "versions.json"
    versions_cache_seconds: float = 5.0
    # The cleanup job deletes in short transactions with pauses between them, so that the
    # API's requests never queue long behind its locks (docs/performance.md: the measure).
    token_cleanup_batch_size: int = 25
    token_cleanup_pause_ratio: NonNegativeFloat = 6.0

    @model_validator(mode="after")
    def _refuse_dev_defaults_in_production(self) -> "Settings":
        if self.environment == "development":
            self.admin_password = self.admin_password or DEV_ADMIN_PASSWORD
        else:
            if self.admin_password == DEV_ADMIN_PASSWORD:
                raise ValueError("ADMIN_PASSWORD must not be the dev default in production")
            if not self.password_pepper:
                raise ValueError("PASSWORD_PEPPER must be set in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if not self.db_host:
            return self.database_url
        user, password = quote(self.db_user, safe=""), quote(self.db_password, safe="")
        return (
            f"mysql+pymysql://{user}:{password}@{self.db_host}:{self.db_port}/"
            f"{self.db_name}?charset=utf8mb4"
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
