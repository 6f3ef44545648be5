from fastapi import HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from fastapi_example.db import SessionDep, database
from fastapi_example.deps import AdminUser, Caller, CallerRoute, SettingsDep, current_user
from fastapi_example.errors import unique_or_409
from fastapi_example.login import set_password
from fastapi_example.models import (
    Id,
    Role,
    User,
    UserCreate,
    UserCreated,
    UserPublic,
    UsersPage,
    UserUpdate,
    utcnow,
)
from fastapi_example.paging import Filter, ListQuery, Paging, contains, equals
from fastapi_example.params import InPath
from fastapi_example.routes import PrefixedRouter
from fastapi_example.rows import read_by_id
from fastapi_example.security import generate_password, hashing
from fastapi_example.sessions import revoke_sessions

# Every route needs a caller (CallerRoute: X-Version, then the bearer token).
router = PrefixedRouter(prefix="/users", tags=["users"], route_class=CallerRoute)


class UserPath(InPath):
    user_id: Id


async def _check_role(db: AsyncSession, role_id: int) -> None:
    if await db.get(Role, role_id) is None:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "role_id"),
                    "msg": "Unknown role",
                    "input": role_id,
                }
            ]
        )


USERNAME_TAKEN = "Username already taken"


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, _admin: AdminUser, db: SessionDep, settings: SettingsDep):
    """Create a user; without a password one is generated and returned this once."""
    await _check_role(db, body.role_id)
    password = body.password or generate_password()
    user = User(username=body.username, role_id=body.role_id, hashed_password="")
    await hashing(set_password, user, password, settings)
    db.add(user)
    await unique_or_409(db, db.commit(), USERNAME_TAKEN)
    generated = None if body.password else password
    return UserCreated(**user.model_dump(), password=generated)


USER_FILTERS = {"username": contains(User.username), "activated": equals(User.activated)}


class UserQuery(ListQuery):
    username: Filter = None
    activated: bool | None = None


@router.get("", response_model=UsersPage, openapi_extra=UserQuery.documented())
async def list_users(request: Request) -> Response:
    query = UserQuery.of(request)
    return await Paging(query.page, query.limit).answer(
        database(request), UserPublic, User, USER_FILTERS, query.filters(), "users"
    )


USER_NOT_FOUND = "User not found"


async def _get_user(db: AsyncSession, user_id: int) -> User:
    user = await db.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail=USER_NOT_FOUND)
    return user


@router.get("/{user_id}", response_model=UserPublic, openapi_extra=UserPath.documented())
async def read_user(request: Request) -> Response:
    user_id = UserPath.of(request).user_id
    return await read_by_id(database(request), UserPublic, User, user_id, USER_NOT_FOUND)


async def _editable_user(db: AsyncSession, caller: Caller, user_id: int) -> User:
    """The target of a PATCH/DELETE: yourself, or (for an admin) any non-admin user."""
    if user_id == caller.id:
        return await _get_user(db, user_id)
    if not caller.is_admin:
        raise HTTPException(status_code=403, detail="You may only change your own account")
    target = await _get_user(db, user_id)
    if target.is_admin:
        raise HTTPException(status_code=403, detail="An admin account is changed only by itself")
    return target


@router.patch("/{user_id}", response_model=UserPublic, openapi_extra=UserPath.documented())
async def update_user(body: UserUpdate, request: Request, db: SessionDep, settings: SettingsDep):
    caller = current_user(request)
    user = await _editable_user(db, caller, UserPath.of(request).user_id)
    changes = body.model_dump(exclude_unset=True)
    yourself = user.id == caller.id
    if yourself and changes.get("role_id", user.role_id) != user.role_id:
        raise HTTPException(status_code=403, detail="You cannot change your own role")
    if yourself and changes.get("activated", user.activated) != user.activated:
        raise HTTPException(status_code=403, detail="You cannot change your own activation")
    if "role_id" in changes:
        await _check_role(db, changes["role_id"])
    for field in changes.keys() & {"username", "role_id", "activated"}:
        setattr(user, field, changes[field])
    if "password" in changes:
        await hashing(set_password, user, changes["password"], settings)
        # Other devices must log in again with the new password.
        await revoke_sessions(db, user.id, keep_id=caller.session_id if yourself else None)
    if not user.activated:
        await revoke_sessions(db, user.id)
    user.updated_at = utcnow()
    db.add(user)
    await unique_or_409(db, db.commit(), USERNAME_TAKEN)
    return user


@router.delete(
    "/{user_id}", status_code=status.HTTP_204_NO_CONTENT, openapi_extra=UserPath.documented()
)
async def disable_user(request: Request, db: SessionDep) -> None:
    """Disable the account (it is kept) and end all its sessions."""
    user = await _editable_user(db, current_user(request), UserPath.of(request).user_id)
    user.activated = False
    user.updated_at = utcnow()
    await revoke_sessions(db, user.id)
    db.add(user)
    await db.commit()
