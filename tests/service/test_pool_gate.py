"""The gate in front of each request pool: at most DB_POOL_SIZE sessions, the rest wait, then 503.

The Database tests run against the backend of the suite (SQLite and MariaDB), on the app's own
Database object; the Gate tests need no database.
"""

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import literal_column, select, text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from fastapi_example import db as db_module
from fastapi_example.db import Database
from fastapi_example.driver import Prepared
from fastapi_example.gate import Gate
from fastapi_example.main import create_app
from tests.service.conftest import ADMIN, bearer, login, unique

SIZE = 2
ONE = Prepared(select(literal_column("1").label("one")))


@pytest.fixture
def database(api_settings):
    return Database(api_settings.model_copy(update={"db_pool_size": SIZE}))


def test_more_sessions_than_the_pool_wait_their_turn(database):
    inside, most = 0, 0

    async def main() -> list[int]:
        await database.start()
        order: list[int] = []

        async def writer(n: int) -> None:
            nonlocal inside, most
            async with database.write_session() as session:
                inside += 1
                most = max(most, inside)
                await session.exec(text("SELECT 1"))
                order.append(n)
                await asyncio.sleep(0.05)  # hold the slot: the others must queue
                inside -= 1

        async def reader(n: int) -> None:
            assert (await database.rows(ONE, {}))[0]["one"] == 1
            order.append(n)

        try:
            await asyncio.gather(*(writer(n) for n in range(5)), *(reader(n) for n in range(5)))
            return order
        finally:
            await database.dispose()

    assert sorted(asyncio.run(main())) == sorted([*range(5), *range(5)])
    assert most == SIZE  # never more sessions than the pool size, and all of them used


def test_a_session_that_waits_too_long_fails_fast(database, monkeypatch):
    monkeypatch.setattr(db_module, "POOL_TIMEOUT_SECONDS", 0.2)

    async def main() -> None:
        await database.start()
        holding: list[int] = []
        all_held, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with database.write_session():
                holding.append(1)
                if len(holding) == SIZE:
                    all_held.set()
                await release.wait()

        holders = [asyncio.create_task(hold()) for _ in range(SIZE)]
        await all_held.wait()
        try:
            with pytest.raises(PoolTimeoutError):
                async with database.write_session():
                    pass
            # The reader's gate is its own: reads still go through.
            assert (await database.rows(ONE, {}))[0]["one"] == 1
        finally:
            release.set()
            await asyncio.gather(*holders)
            await database.dispose()
        async with database.write_session() as session:  # the slots are free again
            await session.exec(text("SELECT 1"))
        await database.dispose()

    asyncio.run(main())


def test_an_exhausted_pool_is_a_json_503_with_retry_after(api_settings, monkeypatch):
    monkeypatch.setattr(db_module, "POOL_TIMEOUT_SECONDS", 0.2)
    app = create_app(api_settings.model_copy(update={"db_pool_size": 1}))
    with TestClient(app) as client:
        headers = bearer(login(client, *ADMIN))
        gate = Gate(0, 0.2)  # every slot taken: what a full pool looks like
        monkeypatch.setattr(Database, "_gate", lambda self, engine: gate)
        response = client.post("/items", json={"name": "never-written"}, headers=headers)
    assert response.status_code == 503, response.text
    assert response.json()["detail"]
    assert response.headers["Retry-After"]


def test_an_invalid_body_is_a_422_without_a_place_in_the_writer_pool(
    client, new_account, monkeypatch
):
    """The routes open their transaction after FastAPI validated the body (db.database): a
    request that can never write does not wait for a writer connection."""
    headers = new_account().headers  # not the admin: a login of it would end the suite's session
    full, own_gate = Gate(0, 0.2), Database._gate
    monkeypatch.setattr(
        Database, "_gate", lambda db, pool: full if pool is db.writer else own_gate(db, pool)
    )
    bad = [
        client.post("/items", json={}, headers=headers),
        client.patch("/items/1", json={"name": ""}, headers=headers),
        client.post("/auth/refresh", json={}),
    ]
    valid = client.post("/items", json={"name": unique("never-written")}, headers=headers)
    assert [response.status_code for response in bad] == [422, 422, 422], [r.text for r in bad]
    assert valid.status_code == 503, valid.text  # the writer's gate is full indeed


async def _queued(gate: Gate, count: int, entered: list[int]) -> list[asyncio.Task]:
    """`count` tasks that enter the gate in turn, each noting its number once inside."""

    async def enter(n: int) -> None:
        await gate.enter()
        entered.append(n)

    tasks = [asyncio.create_task(enter(n)) for n in range(count)]
    await asyncio.sleep(0)  # all of them at the gate, in this order
    return tasks


def test_the_gate_lets_waiters_in_in_the_order_they_came():
    async def main() -> list[int]:
        gate, entered = Gate(1, 5), []
        await gate.enter()
        tasks = await _queued(gate, 4, entered)
        for _ in range(4):
            gate.release()
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return entered

    assert asyncio.run(main()) == [0, 1, 2, 3]


def test_a_cancelled_waiter_takes_no_place():
    async def main() -> None:
        gate, entered = Gate(1, 5), []
        await gate.enter()
        tasks = await _queued(gate, 2, entered)
        tasks[0].cancel()
        await asyncio.sleep(0)
        gate.release()  # passes the cancelled waiter over
        await asyncio.wait_for(tasks[1], 1)
        assert entered == [1]
        gate.release()
        await gate.enter()  # the one place is free again, with no wait
        assert gate._free == 0 and not gate._waiters

    asyncio.run(main())


def test_a_waiter_cancelled_as_it_is_let_in_passes_its_place_on():
    async def main() -> None:
        gate, entered = Gate(1, 5), []
        await gate.enter()
        tasks = await _queued(gate, 2, entered)
        gate.release()  # hands the place to the first waiter...
        tasks[0].cancel()  # ...which is cancelled before it runs again
        await asyncio.gather(tasks[0], return_exceptions=True)
        await asyncio.wait_for(tasks[1], 1)  # the place went on to the next one
        assert entered == [1]

    asyncio.run(main())


def test_waiters_time_out_in_turn():
    # Deadlines 0.3 s apart, checks 0.1-0.2 s from each: room for a loaded machine's lag.
    async def main() -> None:
        gate = Gate(1, 0.5)
        await gate.enter()
        early = await _queued(gate, 2, [])
        await asyncio.sleep(0.3)
        late = await _queued(gate, 1, [])
        await asyncio.sleep(0.3)  # past the first two waiters' deadline, not the third's
        for task in early:
            assert isinstance(task.exception(), PoolTimeoutError)
        assert not late[0].done()
        await asyncio.sleep(0.3)  # the gate's one timer was set again, for the third
        assert isinstance(late[0].exception(), PoolTimeoutError)
        assert gate._timer is None  # nobody waits: no timer
        gate.release()
        await asyncio.wait_for(gate.enter(), 0.05)  # the place is free, no wait

    asyncio.run(main())
