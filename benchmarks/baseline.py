"""The baseline: the API's SQL through asyncmy, the API's driver, without the framework.

`make bench` divides each route's throughput by this app's: the share of what the database
and the driver allow for the same statements. The API sends its statements through asyncmy,
so this app does too, with the API's two pools: reads on a pool of DB_POOL_SIZE (default 10)
autocommit connections, one statement each (a page and its total are one statement, as in
the API); the writes (login, refresh, item create and update) in a transaction on a pool of
as many connections without autocommit, at READ COMMITTED, where the first statement begins
it and COMMIT ends it, as in the API. A transaction is rolled back when anything fails and
run again when InnoDB makes it a deadlock victim (3 attempts, as the API's
retry_on_deadlock). Every query is awaited on the event loop. Argon2 (POST /auth/token)
runs in a small thread pool, off the event loop, as in the API. No FastAPI, SQLAlchemy or
pydantic; served by the same uvicorn (uvloop, httptools, one worker). `GET /ceiling`
answers a constant body: the server stack alone. Roles and versions are read per request
here; the API answers them from its cache.

Statuses and JSON bodies are the API's for the requests the benchmark sends and for their
401, 403, 404 and 409 answers; not for validation errors (422) or login throttling (429):
a login takes its place in the throttle's counters and gives it back, with the API's
statements, but a full counter is not acted on.

    uvicorn --app-dir benchmarks baseline:app   (DB_NAME, PASSWORD_PEPPER from the environment)
"""

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import asyncmy
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

PEPPER = os.environ["PASSWORD_PEPPER"].encode()
# Argon2id as the API hashes (19 MiB, 2 passes, 1 lane): CPU-bound, and it releases the GIL,
# so one thread per core is all it can use.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_hashers = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "10"))
DEADLOCK = 1213
pool: asyncmy.Pool  # the reads' (autocommit), opened at start-up (ASGI lifespan)
writers: asyncmy.Pool  # the transactions' (no autocommit)


async def open_pool(autocommit: bool) -> asyncmy.Pool:
    return await asyncmy.create_pool(
        minsize=POOL_SIZE,
        maxsize=POOL_SIZE,
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", "3306")),
        user=os.environ.get("DB_USER", "root"),
        password=os.environ.get("DB_PASSWORD", ""),
        db=os.environ["DB_NAME"],
        charset="utf8mb4",
        autocommit=autocommit,
        # The API's transactions: no gap locks (with them, concurrent refreshes deadlock).
        init_command="SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    )


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def iso(value: datetime) -> str:
    return value.isoformat() + "Z"  # UTC, written as the API's pydantic writes it


class Reply(Exception):
    def __init__(self, status: int, body) -> None:
        self.status, self.body = status, body


async def fetch(conn, sql: str, args=()) -> tuple:
    async with conn.cursor() as cur:
        await cur.execute(sql, args)
        return await cur.fetchall()


@asynccontextmanager
async def transaction():
    """A writer connection: its first statement begins the transaction (no BEGIN sent)."""
    async with writers.acquire() as conn:
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


USER_COLUMNS = "u.id, u.username, u.role_id, u.activated, u.created_at, u.updated_at"
ITEM_COLUMNS = "id, name, description, user_id, created_at, updated_at"


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


async def authenticate(request, conn) -> tuple:
    value = request["headers"].get(b"authorization", b"").decode()
    if not value.startswith("Bearer "):
        raise Reply(401, {"detail": "Not authenticated"})
    rows = await fetch(
        conn,
        f"SELECT t.id, t.access_expires_at, {USER_COLUMNS} FROM tokens t"  # noqa: S608 - constant SQL fragments, values bound
        " JOIN users u ON u.id = t.user_id WHERE t.access_token_hash = %s",
        (digest(value[7:]),),
    )
    if not rows or rows[0][1] <= now() or not rows[0][5]:
        raise Reply(401, {"detail": "Invalid or expired token"})
    return rows[0][2:]


async def roles(_request, conn) -> list:
    rows = await fetch(conn, "SELECT id, name FROM roles ORDER BY id")
    return [{"id": i, "name": n} for i, n in rows]


async def versions(_request, conn) -> list:
    rows = await fetch(conn, "SELECT id, version, supported FROM versions ORDER BY id")
    return [{"id": i, "version": v, "supported": bool(s)} for i, v, s in rows]


async def me(request, conn) -> dict:
    return user_json(await authenticate(request, conn))


async def read_item(request, conn) -> dict:
    await authenticate(request, conn)
    rows = await fetch(conn, f"SELECT {ITEM_COLUMNS} FROM items WHERE id = %s", (request["id"],))  # noqa: S608 - constant SQL fragments, values bound
    if not rows:
        raise Reply(404, {"detail": "Item not found"})
    return item_json(rows[0])


async def list_items(request, conn) -> dict:
    await authenticate(request, conn)
    query = parse_qs(request["query"])
    page, limit = int(query.get("page", ["1"])[0]), int(query.get("limit", ["20"])[0])
    where, args = "", ()
    # The total rides along as a scalar subquery, as in the API: one statement per page.
    if "name" in query:
        text = query["name"][0].lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
        where, args = " WHERE lower(name) LIKE %s ESCAPE '/'", (f"%{text}%",)
        total = f"SELECT count(*) FROM items{where}"  # noqa: S608 - constant SQL fragments, values bound
    else:  # the count kept on write (row_counts): COUNT(*) reads every row in InnoDB
        total = "SELECT total FROM row_counts WHERE table_name = 'items'"
    rows = await fetch(
        conn,
        f"SELECT {ITEM_COLUMNS}, ({total}) FROM items{where} ORDER BY id LIMIT %s OFFSET %s",  # noqa: S608 - constant SQL fragments, values bound
        (*args, *args, limit, (page - 1) * limit),
    )
    # Past the end, no row carries the total: it is read alone.
    count = rows[0][6] if rows else (await fetch(conn, f"SELECT ({total})", args))[0][0]
    return {"page": page, "limit": limit, "total": count, "items": [item_json(r) for r in rows]}


async def create_item(request, conn) -> dict:
    user = await authenticate(request, conn)
    body = json.loads(request["body"])
    name, description, stamp = body["name"], body.get("description"), now()
    async with transaction() as tx:
        try:
            await fetch(
                tx,
                "INSERT INTO items (name, description, user_id, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                (name, description, user[0], stamp, stamp),
            )
        except asyncmy.IntegrityError:
            raise Reply(409, {"detail": "An item with that name already exists"}) from None
        item_id = tx.insert_id()
        await fetch(tx, "UPDATE row_counts SET total = total + 1 WHERE table_name = 'items'")
    return item_json((item_id, name, description, user[0], stamp, stamp))


async def update_item(request, conn) -> dict:
    user = await authenticate(request, conn)
    body = json.loads(request["body"])
    async with transaction() as tx:
        # Locked, as the API locks it: a concurrent change waits instead of being lost.
        rows = await fetch(
            tx,
            f"SELECT {ITEM_COLUMNS} FROM items WHERE id = %s FOR UPDATE",  # noqa: S608 - constant SQL fragments, values bound
            (request["id"],),
        )
        if not rows:
            raise Reply(404, {"detail": "Item not found"})
        if rows[0][3] != user[0] and user[2] != 1:
            raise Reply(403, {"detail": "Only the owner or an admin may change it"})
        row, stamp = rows[0], now()
        name, description = body.get("name", row[1]), body.get("description", row[2])
        try:
            await fetch(
                tx,
                "UPDATE items SET name = %s, description = %s, updated_at = %s WHERE id = %s",
                (name, description, stamp, request["id"]),
            )
        except asyncmy.IntegrityError:
            raise Reply(409, {"detail": "An item with that name already exists"}) from None
    return item_json((row[0], name, description, row[3], row[4], stamp))


async def _issue(conn, token_id: int | None, user_id: int) -> dict:
    access, refresh, stamp = secrets.token_urlsafe(48), secrets.token_urlsafe(48), now()
    values = (
        digest(access),
        stamp + timedelta(minutes=120),
        digest(refresh),
        stamp + timedelta(days=200),
    )
    if token_id is None:
        await fetch(
            conn,
            "INSERT INTO tokens (user_id, access_token_hash, access_expires_at,"
            " refresh_token_hash, refresh_expires_at, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (user_id, *values, stamp),
        )
    else:
        await fetch(
            conn,
            "UPDATE tokens SET access_token_hash = %s, access_expires_at = %s,"
            " refresh_token_hash = %s, refresh_expires_at = %s WHERE id = %s",
            (*values, token_id),
        )
    return {"id": user_id, "access_token": access, "expires": 7200, "refresh_token": refresh}


def verify(hashed: str, password: str) -> bool:
    peppered = hmac.new(PEPPER, password.encode(), hashlib.sha256).hexdigest()
    try:
        return HASHER.verify(hashed, peppered)
    except VerificationError:
        return False


def bucket(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


async def login(request, conn) -> dict:
    body = json.loads(request["body"])
    name, address, stamp = body["username"], request["client"], now()
    key = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    pair, by_name = bucket("pair", key, address), bucket("username", key)
    buckets = sorted((pair, by_name, bucket("address", address)))
    passed = stamp - timedelta(seconds=300)
    async with transaction() as tx:
        # The login throttle's counters, as the API takes a place in them (not acted on).
        for one in buckets:
            await fetch(
                tx,
                "INSERT INTO login_throttle (bucket, failures, window_started) VALUES (%s, 0, %s)"
                " ON DUPLICATE KEY UPDATE"
                " failures = CASE WHEN window_started <= %s THEN 0 ELSE failures END,"
                " window_started = CASE WHEN window_started <= %s THEN %s ELSE window_started END",
                (one, stamp, passed, passed, stamp),
            )
        await fetch(
            tx,
            "SELECT bucket, failures, window_started FROM login_throttle WHERE bucket IN %s",
            (tuple(buckets),),
        )
        await fetch(
            tx,
            "UPDATE login_throttle SET failures = failures + 1 WHERE bucket IN %s",
            (tuple(buckets),),
        )
    async with transaction() as tx:
        rows = await fetch(
            tx, "SELECT id, hashed_password, activated FROM users WHERE username_key = %s", (key,)
        )
        loop = asyncio.get_running_loop()
        if not rows or not await loop.run_in_executor(
            _hashers, verify, rows[0][1], body["password"]
        ):
            raise Reply(401, {"detail": "Incorrect username or password"})
        for one in buckets:  # the place given back
            if one == pair:
                await fetch(tx, "DELETE FROM login_throttle WHERE bucket = %s", (one,))
            else:
                await fetch(
                    tx,
                    "UPDATE login_throttle SET failures = failures - 1"
                    " WHERE bucket = %s AND failures > 0",
                    (one,),
                )
        user_id, _, activated = rows[0]
        if not activated:
            raise Reply(403, {"detail": "User is disabled"})
        await fetch(tx, "SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
        await fetch(
            tx,
            "DELETE FROM tokens WHERE user_id = %s AND refresh_expires_at <= %s",
            (user_id, stamp),
        )
        live = await fetch(
            tx,
            "SELECT id FROM tokens WHERE user_id = %s ORDER BY created_at DESC, id DESC",
            (user_id,),
        )
        if len(live) > 1:  # the newest stays: with the new one, MAX_SESSIONS_PER_USER = 2
            await fetch(tx, "DELETE FROM tokens WHERE id IN %s", (tuple(r[0] for r in live[1:]),))
        return await _issue(tx, None, user_id)


async def refresh(request, conn) -> dict:
    presented = digest(json.loads(request["body"])["refresh_token"])
    async with transaction() as tx:
        rows = await fetch(
            tx,
            "SELECT t.id, t.refresh_expires_at, t.user_id, u.activated FROM tokens t"
            " JOIN users u ON u.id = t.user_id WHERE t.refresh_token_hash = %s FOR UPDATE",
            (presented,),
        )
        if not rows or rows[0][1] <= now() or not rows[0][3]:
            raise Reply(401, {"detail": "Invalid or expired refresh token"})
        token_id, expires, user_id, _ = rows[0]
        await fetch(
            tx,
            "INSERT INTO rotated_refresh_tokens (refresh_token_hash, token_id, expires_at)"
            " VALUES (%s, %s, %s)",
            (presented, token_id, expires),
        )
        return await _issue(tx, token_id, user_id)


GETS = {"/roles": roles, "/versions": versions, "/auth/me": me, "/items": list_items}
POSTS = {"/items": create_item, "/auth/token": login, "/auth/refresh": refresh}
CEILING = json.dumps({"status": "ok"}).encode()


def route(method: str, path: str):
    if path.startswith("/items/"):
        return {"GET": read_item, "PATCH": update_item}.get(method), path[7:]
    return (GETS if method == "GET" else POSTS if method == "POST" else {}).get(path), None


async def answer(handler, request):
    """The handler's result, on one pooled connection for the whole request."""
    async with pool.acquire() as conn:
        for attempt in (1, 2, 3):
            try:
                return await handler(request, conn)
            except asyncmy.OperationalError as error:
                if error.args[0] != DEADLOCK or attempt == 3:
                    raise


async def lifespan(receive, send) -> None:
    global pool, writers
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            pool, writers = await open_pool(True), await open_pool(False)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            for opened in (pool, writers):
                opened.close()
                await opened.wait_closed()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await lifespan(receive, send)
    method, path = scope["method"], scope["path"]
    status, body = 200, CEILING
    if path != "/ceiling":
        handler, item_id = route(method, path)
        request = {
            "headers": dict(scope["headers"]),
            "query": scope["query_string"].decode(),
            "id": item_id,
            "client": scope["client"][0] if scope.get("client") else "",
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
            result = await answer(handler, request)
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
