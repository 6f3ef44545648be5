"""Settings: environment, the secrets folder, and production's refusal of dev defaults."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from fastapi_example.settings import DEV_ADMIN_PASSWORD, Settings


def test_defaults_are_the_embedded_development_setup(monkeypatch):
    for name in ("DATABASE_URL", "DB_HOST", "PORT", "ENVIRONMENT", "ADMIN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.sqlalchemy_url.startswith("sqlite:///")
    assert (settings.port, settings.metrics_port) == (8080, 8000)
    assert (settings.admin_username, settings.admin_password) == ("admin", "admin")
    assert (settings.max_sessions_per_user, settings.access_token_minutes) == (2, 120)
    assert settings.refresh_token_days == 200


def test_db_parts_build_a_mysql_url_with_an_escaped_password(monkeypatch, tmp_path):
    (tmp_path / "DB_PASSWORD").write_text("p@ss:w/rd")
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("DB_HOST", "mysql.example")
    monkeypatch.setenv("DB_NAME", "app")
    settings = Settings(_secrets_dir=str(tmp_path))
    assert settings.sqlalchemy_url == (
        "mysql+pymysql://fastapi_example:p%40ss%3Aw%2Frd@mysql.example:3306/app?charset=utf8mb4"
    )


@pytest.mark.parametrize(
    "values",
    [
        {"admin_password": "admin", "password_pepper": "pepper"},
        {"admin_password": "a-strong-one", "password_pepper": ""},
    ],
)
def test_production_refuses_dev_defaults(values):
    with pytest.raises(ValidationError):
        Settings(environment="production", **values)


@pytest.mark.parametrize("seconds", [0.5, 1, 1.9])
def test_a_statement_timeout_the_servers_lock_wait_would_outlast_is_refused(seconds):
    # The lock wait is whole seconds, at least one, and must end before the statement's
    # timeout: a write answered 503 would otherwise still be done afterwards.
    with pytest.raises(ValidationError, match="db_statement_timeout"):
        Settings(db_statement_timeout=seconds)
    assert Settings(db_statement_timeout=2).db_statement_timeout == 2


def test_production_starts_with_real_secrets():
    Settings(environment="production", admin_password="a-strong-one", password_pepper="pepper")


def test_only_development_defaults_the_admin_password():
    """serve and the cleanup job run without ADMIN_PASSWORD; only migrate needs it."""
    assert Settings(environment="production", password_pepper="p").admin_password == ""
    assert Settings(environment="development").admin_password == DEV_ADMIN_PASSWORD


def run_migrate(env: dict[str, str], folder) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fastapi_example", "migrate"],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_migrate_in_production_needs_the_admin_password(tmp_path):
    env = {"ENVIRONMENT": "production", "PASSWORD_PEPPER": "pepper", "PATH": "/usr/bin:/bin"}
    result = run_migrate(env, tmp_path)
    assert result.returncode == 2
    assert "migrate needs ADMIN_PASSWORD" in result.stderr
    assert not (tmp_path / "fastapi-example.db").exists()  # refused before touching anything


def test_cli_exits_2_on_refused_settings(tmp_path):
    env = {
        "ENVIRONMENT": "production",
        "ADMIN_PASSWORD": "admin",
        "PASSWORD_PEPPER": "pepper-that-must-not-leak",
        "DB_PASSWORD": "db-password-that-must-not-leak",
        "PATH": "/usr/bin:/bin",
    }
    result = run_migrate(env, tmp_path)
    assert result.returncode == 2
    assert "ADMIN_PASSWORD" in result.stderr
    assert "must-not-leak" not in result.stderr + result.stdout
