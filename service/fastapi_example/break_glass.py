"""`fastapi-example migrate --restore-admin`: access back from ADMIN_USERNAME/ADMIN_PASSWORD.

For the day nobody can log in as an admin (the password lost, the account disabled or
demoted by hand): the user named ADMIN_USERNAME becomes an active admin again with
ADMIN_PASSWORD, its sessions end and its username's throttle counter starts over. Nothing
else changes: no other user, item or session is touched (docs/api.md).
"""

import logging

from sqlalchemy import Engine, delete
from sqlmodel import Session, select

from fastapi_example.data.login_throttle import Attempt
from fastapi_example.migrate import admin_password_hash, new_admin
from fastapi_example.models import ADMIN_ROLE_ID, LoginThrottle, Token, User, username_key, utcnow
from fastapi_example.settings import Settings

log = logging.getLogger(__name__)


def restore_admin(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        # By the name as compared, as logins and the seed find it ("Admin" is "admin").
        key = username_key(settings.admin_username)
        user = session.exec(select(User).where(User.username_key == key)).first()
        if user is None:
            user = new_admin(settings)
        else:
            user.hashed_password = admin_password_hash(settings)
        user.role_id, user.activated = ADMIN_ROLE_ID, True
        user.updated_at = utcnow()
        session.add(user)
        session.flush()
        session.exec(delete(Token).where(Token.user_id == user.id))
        counter = Attempt.of(key, "").username
        session.exec(delete(LoginThrottle).where(LoginThrottle.bucket == counter))
        session.commit()
        log.warning("restored the admin's access", extra={"user_id": user.id})
