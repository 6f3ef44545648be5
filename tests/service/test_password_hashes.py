"""Stored hashes of an older scheme or setting: accepted and upgraded at the next login
(bcrypt, from the original app; Argon2 with weaker settings), and neither an upgrade nor a
change of your own password undoes a password set while the old one was being checked."""

import bcrypt
import pytest
from passlib.hash import argon2
from sqlalchemy import text
from sqlmodel import Session

from fastapi_example import login as login_module
from fastapi_example.db import make_engine
from fastapi_example.routes import users as users_routes
from tests.service.test_accounts import sql

WEAK_ARGON2 = argon2.using(type="ID", memory_cost=8192, rounds=1, parallelism=1)


def stored_hash(settings, user_id: int) -> str:
    engine = make_engine(settings)
    try:
        with Session(engine) as db:
            query = text("SELECT hashed_password FROM users WHERE id = :id")
            return db.exec(query, params={"id": user_id}).one()[0]
    finally:
        engine.dispose()


def set_hash(settings, user_id: int, hashed: str) -> None:
    sql(settings, "UPDATE users SET hashed_password = :h WHERE id = :id", h=hashed, id=user_id)


def token(client, username: str, password: str):
    return client.post("/auth/token", json={"username": username, "password": password})


LEGACY = {
    "bcrypt": lambda password: bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode(),
    "weak argon2": WEAK_ARGON2.hash,
}


@pytest.mark.parametrize("scheme", LEGACY)
def test_an_old_hash_logs_in_and_is_upgraded(client, api_settings, new_account, scheme):
    account = new_account()
    set_hash(api_settings, account.id, LEGACY[scheme](account.password))
    assert token(client, account.username, "not-the-password").status_code == 401
    assert token(client, account.username, "x" * 100).status_code == 401
    assert token(client, account.username, "nul\x00byte").status_code == 401  # bcrypt refuses NUL
    assert token(client, account.username, account.password).status_code == 200
    upgraded = stored_hash(api_settings, account.id)
    assert upgraded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert token(client, account.username, account.password).status_code == 200


def test_docs_basic_auth_takes_a_bcrypt_hash(client, api_settings, new_account):
    account = new_account(role_id=1)  # the docs are for admins
    set_hash(api_settings, account.id, LEGACY["bcrypt"](account.password))
    assert client.get("/docs", auth=(account.username, account.password)).status_code == 200


def test_an_upgrade_does_not_undo_a_password_set_during_the_check(
    client, api_settings, new_account, monkeypatch
):
    """The reset commits while the old password is being checked (a hash takes tens of
    milliseconds): the login that checked it must fail, and the reset stand."""
    account = new_account()
    set_hash(api_settings, account.id, WEAK_ARGON2.hash(account.password))
    reset = login_module.hash_password("reset-by-admin", api_settings.password_pepper)
    checking = login_module.hashing

    async def reset_during_the_check(call, *args):
        result = await checking(call, *args)
        set_hash(api_settings, account.id, reset)
        return result

    monkeypatch.setattr(login_module, "hashing", reset_during_the_check)
    assert token(client, account.username, account.password).status_code == 401
    monkeypatch.undo()
    assert stored_hash(api_settings, account.id) == reset
    assert token(client, account.username, account.password).status_code == 401
    assert token(client, account.username, "reset-by-admin").status_code == 200


def test_your_own_change_does_not_undo_a_reset_made_while_it_was_checked(
    client, api_settings, new_account, monkeypatch
):
    """An admin resets the password between the check of your current one and your change:
    the reset stands and your change is refused as with a wrong current password."""
    account = new_account()
    reset = login_module.hash_password("reset-by-admin", api_settings.password_pepper)
    hashing = users_routes.password_hash

    async def reset_while_hashing(password, settings):
        new_hash = await hashing(password, settings)
        set_hash(api_settings, account.id, reset)
        return new_hash

    monkeypatch.setattr(users_routes, "password_hash", reset_while_hashing)
    change = {"password": "chosen-by-user", "current_password": account.password}
    response = client.patch(f"/users/{account.id}", json=change, headers=account.headers)
    assert response.status_code == 403, response.text
    assert response.json() == {"detail": "Current password is wrong"}
    monkeypatch.undo()
    assert stored_hash(api_settings, account.id) == reset
    assert token(client, account.username, "chosen-by-user").status_code == 401
    assert token(client, account.username, "reset-by-admin").status_code == 200
