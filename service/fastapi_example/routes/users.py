from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError

from fastapi_example.data import catalog, sessions, users
from fastapi_example.db import Database, DatabaseDep, Row, UniqueViolation
from fastapi_example.deps import (
    AdminUser,
    Caller,
    CurrentUser,
    SettingsDep,
    VersionChecked,
    current_user,
)
from fastapi_example.login import authenticate, client_address, password_hash
from fastapi_example.models import (
    ADMIN_ROLE_ID,
    Id,
    UserCreate,
    UserCreated,
    UserPublic,
    UserQuery,
    UsersPage,
    UserUpdate,
)
from fastapi_example.routes import PrefixedRouter, changed
from fastapi_example.security import generate_password
from fastapi_example.settings import Settings

# Every route: the X-Version check, then a caller with a valid access token.
router = PrefixedRouter(
    prefix="/users", tags=["users"], dependencies=[VersionChecked, Depends(current_user)]
)

USER_NOT_FOUND = "User not found"
USERNAME_TAKEN = "Username already taken"


async def _check_role(db: Database, role_id: int) -> None:
    if not await catalog.role_exists(db, role_id):
        error = {"type": "value_error", "loc": ("body", "role_id"), "msg": "Unknown role"}
        raise RequestValidationError([{**error, "input": role_id}])


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, _admin: AdminUser, db: DatabaseDep, settings: SettingsDep):
    """Create a user; without a password one is generated and returned this once."""
    await _check_role(db, body.role_id)
    password = body.password or generate_password()
    hashed = await password_hash(password, settings)
    try:
        user = await users.create_user(db, body.username, body.role_id, hashed)
    except UniqueViolation:
        raise HTTPException(status_code=409, detail=USERNAME_TAKEN) from None
    return {**user, "password": None if body.password else password}


@router.get("", response_model=UsersPage)
async def list_users(db: DatabaseDep, query: Annotated[UserQuery, Query()]):
    total, page = await users.list_users(db, query)
    return {"page": query.page, "limit": query.limit, "total": total, "users": page}


@router.get("/{user_id}", response_model=UserPublic)
async def read_user(user_id: Id, db: DatabaseDep):
    user = await users.read_user(db, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail=USER_NOT_FOUND)
    return user


def _editable(caller: Caller, user_id: int, user: Row | None, caller_is_admin: bool) -> Row:
    """The target of a PATCH/DELETE: yourself, or (for an admin) any non-admin user.

    Checked on the rows read before the work (a password's hashing), and again on the rows
    locked in the change's transaction: another admin may have promoted or demoted either
    one meanwhile (`caller_is_admin` is then read from the locked admins, not the token's)."""
    if user_id != caller.id and not caller_is_admin:
        raise HTTPException(status_code=403, detail="You may only change your own account")
    if user is None:
        raise HTTPException(status_code=404, detail=USER_NOT_FOUND)
    if user_id != caller.id and user["role_id"] == ADMIN_ROLE_ID:
        raise HTTPException(status_code=403, detail="An admin account is changed only by itself")
    return user


def _keeps_own_role_and_activation(caller: Caller, user: Row, changes: dict) -> None:
    """Nobody changes their own role or activation; checked on the row read first and on the
    locked one (a PATCH naming the role it read must not undo a promotion made meanwhile)."""
    if user["id"] != caller.id:
        return
    if changes.get("role_id", user["role_id"]) != user["role_id"]:
        raise HTTPException(status_code=403, detail="You cannot change your own role")
    if changes.get("activated", user["activated"]) != user["activated"]:
        raise HTTPException(status_code=403, detail="You cannot change your own activation")


def wrong_current_password() -> HTTPException:
    return HTTPException(status_code=403, detail="Current password is wrong")


async def _check_current_password(
    request: Request, db: Database, settings: Settings, caller: Caller, current: str | None
) -> str:
    """Your own new password needs your current one: an access token alone (a stolen one)
    must not take the account over. Checked, and throttled, as a login is; the hash it was
    checked against is returned."""
    if current is None:
        error = {"type": "missing", "loc": ("body", "current_password"), "input": None}
        msg = "Field required to change your own password"
        raise RequestValidationError([{**error, "msg": msg}])
    try:
        user = await authenticate(
            db,
            caller.username,
            current,
            client_address(request),
            settings,
            request.app.state.metrics,
            challenge={},
        )
    except HTTPException as refused:
        if refused.status_code == 401:
            raise wrong_current_password() from None
        raise
    return user["hashed_password"]


@router.patch("/{user_id}", response_model=UserPublic)
async def update_user(
    user_id: Id,
    body: UserUpdate,
    caller: CurrentUser,
    db: DatabaseDep,
    settings: SettingsDep,
    request: Request,
):
    user = _editable(caller, user_id, await users.read_user(db, user_id), caller.is_admin)
    changes = body.model_dump(exclude_unset=True)
    current_password = changes.pop("current_password", None)
    yourself = user_id == caller.id
    _keeps_own_role_and_activation(caller, user, changes)
    if "role_id" in changes:
        await _check_role(db, changes["role_id"])
    checked_hash = None
    if yourself and "password" in changes:
        checked_hash = await _check_current_password(
            request, db, settings, caller, current_password
        )
    if "password" in changes:
        changes["hashed_password"] = await password_hash(changes.pop("password"), settings)
    try:
        async with db.transaction() as tx:
            admins = await users.lock_active_admins(tx)
            locked = await users.lock_user(tx, user_id)
            _editable(caller, user_id, locked, caller.id in admins)
            _keeps_own_role_and_activation(caller, locked, changes)
            if checked_hash is not None and locked["hashed_password"] != checked_hash:
                # A password set while yours was checked (an admin's reset) stands: the one
                # you gave is no longer your current password.
                raise wrong_current_password()
            if update := changed(locked, changes):
                await users.update_user(tx, user_id, update)
            if "hashed_password" in changes:
                # Other devices must log in again with the new password.
                keep = caller.session_id if yourself else None
                await sessions.revoke_sessions(tx, user_id, keep_id=keep)
            if not changes.get("activated", locked["activated"]):
                await sessions.revoke_sessions(tx, user_id)
    except UniqueViolation:
        raise HTTPException(status_code=409, detail=USERNAME_TAKEN) from None
    return await users.read_user(db, user_id)


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def disable_user(user_id: Id, caller: CurrentUser, db: DatabaseDep) -> None:
    """Disable the account (it is kept) and end all its sessions. The last active admin
    cannot disable itself: nobody could then manage the users."""
    _editable(caller, user_id, await users.read_user(db, user_id), caller.is_admin)
    async with db.transaction() as tx:
        # The active admins' rows locked: two admins disabling themselves at once queue up.
        admins = await users.lock_active_admins(tx)
        _editable(caller, user_id, await users.lock_user(tx, user_id), caller.id in admins)
        if admins == [caller.id] and user_id == caller.id:
            raise HTTPException(status_code=403, detail="The last active admin cannot be disabled")
        await users.update_user(tx, user_id, {"activated": False})
        await sessions.revoke_sessions(tx, user_id)
