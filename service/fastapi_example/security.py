"""Passwords (Argon2id through passlib, with an optional pepper) and opaque tokens."""

import asyncio
import hashlib
import hmac
import secrets
import string
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from passlib.context import CryptContext
from passlib.exc import PasswordValueError

T = TypeVar("T")

# Argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane); bcrypt hashes
# are still accepted and upgraded on the next login.
_context = CryptContext(
    schemes=["argon2", "bcrypt"],
    deprecated=["bcrypt"],
    argon2__type="ID",
    argon2__memory_cost=19456,
    argon2__rounds=2,
    argon2__parallelism=1,
)
_ALPHABET = string.ascii_letters + string.digits

# Each hash holds its 19 MiB while it runs, and glibc keeps the block in the thread's arena
# for the next one. Threads of their own bound both: on the shared threadpool as many hashes
# ran at once as there were database connections, and a burst of logins left a block behind
# in every thread. More hashes at once than a pod's cores would not finish any sooner.
HASH_THREADS = 2
_hashers = ThreadPoolExecutor(HASH_THREADS, thread_name_prefix="argon2")


async def hashing(call: Callable[..., T], *args) -> T:
    """An Argon2 call (tens of milliseconds of CPU) on the hashing threads, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_hashers, call, *args)


def _peppered(password: str, pepper: str) -> str:
    if not pepper:
        return password
    return hmac.new(pepper.encode(), password.encode(), hashlib.sha256).hexdigest()


def hash_password(password: str, pepper: str) -> str:
    return _context.hash(_peppered(password, pepper))


def verify_password(password: str, hashed: str, pepper: str) -> tuple[bool, str | None]:
    """(matches, a new hash when the stored one uses an outdated scheme or setting)."""
    try:
        return _context.verify_and_update(_peppered(password, pepper), hashed)
    except PasswordValueError:
        # bcrypt refuses a password with a NUL byte: no bcrypt hash can be of such a password.
        return False, None


_DUMMY_HASH = _context.hash("a password nobody has")


def burn_verify_time(password: str) -> None:
    """Spend what a real check costs, so unknown usernames answer as slowly as known ones."""
    _context.verify(password, _DUMMY_HASH)


def generate_password(length: int = 20) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_token() -> str:
    return secrets.token_urlsafe(48)


def token_digest(token: str) -> str:
    """What the database stores instead of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
