"""The baseline: a bare ASGI app doing the API's SQL through pymysql, without the framework.

Served by the same uvicorn (uvloop, httptools, one worker) as the API. Reads run on the event
loop over one connection (the cheapest way to send one query); writes run on a pool of
threads with a connection each, so commits (fsync) and password hashing overlap as they do
in the API. `GET /ceiling` answers a constant body: the server stack alone.

    uvicorn --app-dir benchmarks baseline:app   (DB_NAME, PASSWORD_PEPPER from the environment)
"""

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pymysql
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

PEPPER = os.environ["PASSWORD_PEPPER"].encode()
# Argon2id as the API hashes (19 MiB, 2 passes, 1 lane).
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_local = threading.local()
_writers = ThreadPoolExecutor(max_workers=int(os.environ.get("DB_POOL_SIZE", "10")))


def connect() -> pymysql.Connection:
    return pymysql.connect(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", "3306")),
        user=os.environ.get("DB_USER", "root"),
        password=os.environ.get("DB_PASSWORD", ""),
        database=os.environ["DB_NAME"],
        charset="utf8mb4",
        autocommit=True,
    )


def conn() -> pymysql.Connection:
    if not hasattr(_local, "conn"):
        _local.conn = connect()
    return _local.conn


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def iso(value: datetime) -> str:
    return value.isoformat()


class Reply(Exception):
    def __init__(self, status: int, body) -> None:
        self.status, self.body = status, body


def fetch(sql: str, args=()) -> list[tuple]:
    with conn().cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


USER_COLUMNS = "u.id, u.username, u.role_id, u.activated, u.created_at, u.updated_at"


def user_json(row) -> dict:
    return {
        "username": row[1],
        "id": row[0],
        "role_id": row[2],
        "activated": bool(row[3]),
        "created_at": iso(row[4]),
        "updated_at": iso(row[5]),
    }


def item_json(row) -> dict:
    return {
        "name": row[1],
        "description": row[2],
        "id": row[0],
        "user_id": row[3],
        "created_at": iso(row[4]),
        "updated_at": iso(row[5]),
    }


ITEM_COLUMNS = "id, name, description, user_id, created_at, updated_at"


def authenticate(headers: dict) -> tuple:
    value = headers.get(b"authorization", b"").decode()
    if not value.startswith("Bearer "):
        raise Reply(401, {"detail": "Not authenticated"})
    rows = fetch(
        f"SELECT t.id, t.access_expires_at, {USER_COLUMNS} FROM tokens t"  # noqa: S608 - constant SQL fragments, values bound
        " JOIN users u ON u.id = t.user_id WHERE t.access_token_hash = %s",
        (digest(value[7:]),),
    )
    if not rows or rows[0][1] <= now() or not rows[0][5]:
        raise Reply(401, {"detail": "Invalid or expired token"})
    return rows[0][2:]


def roles(_request) -> list:
    return [{"id": i, "name": n} for i, n in fetch("SELECT id, name FROM roles ORDER BY id")]


def versions(_request) -> list:
    rows = fetch("SELECT id, version, supported FROM versions ORDER BY id")
    return [{"id": i, "version": v, "supported": bool(s)} for i, v, s in rows]


def me(request) -> dict:
    return user_json(authenticate(request["headers"]))


def read_item(request) -> dict:
    authenticate(request["headers"])
    rows = fetch(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = %s", (request["id"],))  # noqa: S608 - constant SQL fragments, values bound
    if not rows:
        raise Reply(404, {"detail": "Item not found"})
    return item_json(rows[0])


def list_items(request) -> dict:
    authenticate(request["headers"])
    query = parse_qs(request["query"])
    page, limit = int(query.get("page", ["1"])[0]), int(query.get("limit", ["20"])[0])
    where, args = "", ()
    if "name" in query:
        text = query["name"][0].lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
        where, args = " WHERE lower(name) LIKE %s ESCAPE '/'", (f"%{text}%",)
        total = fetch(f"SELECT count(*) FROM items{where}", args)[0][0]  # noqa: S608 - constant SQL fragments, values bound
    else:
        total = fetch("SELECT items FROM row_counts WHERE id = 1")[0][0]
    rows = fetch(
        f"SELECT {ITEM_COLUMNS} FROM items{where} ORDER BY id LIMIT %s OFFSET %s",  # noqa: S608 - constant SQL fragments, values bound
        (*args, limit, (page - 1) * limit),
    )
    return {"page": page, "limit": limit, "total": total, "items": [item_json(r) for r in rows]}


def create_item(request) -> dict:
    user = authenticate(request["headers"])
    body = json.loads(request["body"])
    stamp = now()
    with conn().cursor() as cur:
        cur.execute("BEGIN")
        cur.execute(
            "INSERT INTO items (name, description, user_id, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (body["name"], body.get("description"), user[0], stamp, stamp),
        )
        item_id = cur.lastrowid
        cur.execute("UPDATE row_counts SET items = items + 1 WHERE id = 1")
        cur.execute("COMMIT")
    return item_json((item_id, body["name"], body.get("description"), user[0], stamp, stamp))


def update_item(request) -> dict:
    user = authenticate(request["headers"])
    body = json.loads(request["body"])
    rows = fetch(f"SELECT {ITEM_COLUMNS} FROM items WHERE id = %s", (request["id"],))  # noqa: S608 - constant SQL fragments, values bound
    if not rows:
        raise Reply(404, {"detail": "Item not found"})
    if rows[0][3] != user[0] and user[2] != 1:
        raise Reply(403, {"detail": "Only the owner or an admin may change it"})
    stamp = now()
    fetch(
        "UPDATE items SET description = %s, updated_at = %s WHERE id = %s",
        (body["description"], stamp, request["id"]),
    )
    row = rows[0]
    return item_json((row[0], row[1], body["description"], row[3], row[4], stamp))


def _issue(cur, token_id: int | None, user_id: int) -> dict:
    access, refresh, stamp = secrets.token_urlsafe(48), secrets.token_urlsafe(48), now()
    values = (
        digest(access),
        stamp + timedelta(minutes=120),
        digest(refresh),
        stamp + timedelta(days=200),
    )
    if token_id is None:
        cur.execute(
            "INSERT INTO tokens (user_id, access_token_hash, access_expires_at,"
            " refresh_token_hash, refresh_expires_at, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (user_id, *values, stamp),
        )
    else:
        cur.execute(
            "UPDATE tokens SET access_token_hash = %s, access_expires_at = %s,"
            " refresh_token_hash = %s, refresh_expires_at = %s WHERE id = %s",
            (*values, token_id),
        )
    return {"id": user_id, "access_token": access, "expires": 7200, "refresh_token": refresh}


def login(request) -> dict:
    body = json.loads(request["body"])
    name = body["username"]
    stamp = now()
    with conn().cursor() as cur:
        cur.execute("BEGIN")
        cur.execute(
            "SELECT count(*), min(failed_at) FROM login_failures"
            " WHERE username = %s AND failed_at > %s",
            (name, stamp - timedelta(seconds=300)),
        )
        cur.execute("SELECT id, hashed_password, activated FROM users WHERE username = %s", (name,))
        user = cur.fetchone()
        peppered = hmac.new(PEPPER, body["password"].encode(), hashlib.sha256).hexdigest()
        try:
            HASHER.verify(user[1], peppered)
        except (VerificationError, TypeError):
            cur.execute("ROLLBACK")
            raise Reply(401, {"detail": "Incorrect username or password"}) from None
        cur.execute("DELETE FROM login_failures WHERE username = %s", (name,))
        cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user[0],))
        cur.execute(
            "DELETE FROM tokens WHERE user_id = %s AND refresh_expires_at <= %s", (user[0], stamp)
        )
        cur.execute(
            "SELECT id FROM tokens WHERE user_id = %s ORDER BY created_at DESC, id DESC",
            (user[0],),
        )
        live = [row[0] for row in cur.fetchall()]
        if len(live) > 1:
            cur.execute("DELETE FROM tokens WHERE id IN %s", (live[1:],))
        pair = _issue(cur, None, user[0])
        cur.execute("COMMIT")
    return pair


def refresh(request) -> dict:
    presented = digest(json.loads(request["body"])["refresh_token"])
    with conn().cursor() as cur:
        cur.execute("BEGIN")
        cur.execute(
            "SELECT t.id, t.refresh_expires_at, t.user_id, u.activated FROM tokens t"
            " JOIN users u ON u.id = t.user_id WHERE t.refresh_token_hash = %s FOR UPDATE",
            (presented,),
        )
        row = cur.fetchone()
        if row is None or row[1] <= now() or not row[3]:
            cur.execute("ROLLBACK")
            raise Reply(401, {"detail": "Invalid or expired refresh token"})
        cur.execute(
            "INSERT INTO rotated_refresh_tokens (refresh_token_hash, token_id, expires_at)"
            " VALUES (%s, %s, %s)",
            (presented, row[0], row[1]),
        )
        pair = _issue(cur, row[0], row[2])
        cur.execute("COMMIT")
    return pair


GETS = {"/roles": roles, "/versions": versions, "/auth/me": me, "/items": list_items}
POSTS = {"/items": create_item, "/auth/token": login, "/auth/refresh": refresh}
CEILING = json.dumps({"status": "ok"}).encode()


def route(method: str, path: str):
    if path.startswith("/items/"):
        return {"GET": read_item, "PATCH": update_item}.get(method), path[7:]
    return (GETS if method == "GET" else POSTS if method == "POST" else {}).get(path), None


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    status, body = 200, CEILING
    if path != "/ceiling":
        handler, item_id = route(method, path)
        request = {
            "headers": dict(scope["headers"]),
            "query": scope["query_string"].decode(),
            "id": item_id,
            "body": b"",
        }
        more = True
        while more:
            message = await receive()
            request["body"] += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            if handler is None:
                raise Reply(404, {"detail": "Not Found"})
            if method == "GET":
                result = handler(request)
            else:
                result = await asyncio.get_running_loop().run_in_executor(
                    _writers, handler, request
                )
            status = 201 if (method, path) == ("POST", "/items") else 200
        except Reply as reply:
            status, result = reply.status, reply.body
        body = json.dumps(result).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
