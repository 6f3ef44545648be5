"""Losing an API pod under load, and losing the database."""

import threading
import uuid

import httpx
import pytest

from tests.e2e.conftest import bearer, login
from tests.e2e.target import Target, wait_until

MAX_REQUESTS = 5000  # the load loop's own bound, whatever happens


def test_no_failed_request_while_an_api_pod_is_deleted(
    target: Target, client: httpx.Client, make_user
):
    if target.api_replicas() < 2:
        pytest.fail("this scenario needs 2 API replicas (the local target and kind/values.yaml)")
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    stop, failures, done = threading.Event(), [], []

    def load() -> None:
        # New connections each time, like many clients: nothing is pinned to one pod.
        for _ in range(MAX_REQUESTS):
            if stop.is_set():
                return
            try:
                with httpx.Client(base_url=target.base_url, headers=target.headers) as c:
                    response = c.get("/items", headers=auth, timeout=30)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
            except httpx.HTTPError as error:
                failures.append(repr(error))
            done.append(1)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        wait_until(lambda: len(done) >= 5, "the load to start", timeout=60)
        target.restart_api_instance()
        sent_before = len(done)
        wait_until(lambda: len(done) >= sent_before + 5, "requests after the restart", timeout=60)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert failures == []
    target.wait_rollout()


def test_database_restart_keeps_data_and_the_api_recovers(
    target: Target, client: httpx.Client, make_user
):
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    name = f"durable-{uuid.uuid4().hex[:8]}"
    created = client.post("/items", headers=auth, json={"name": name, "description": "kept"})
    assert created.status_code == 201
    item_id = created.json()["id"]

    target.restart_database()

    # The pool's pre-ping replaces dead connections; readiness comes back on its own.
    wait_until(
        lambda: client.get(f"/items/{item_id}", headers=auth).status_code == 200,
        "the API to serve from the restarted database",
        timeout=180,
        every=2,
    )
    item = client.get(f"/items/{item_id}", headers=auth).json()
    assert (item["name"], item["description"]) == (name, "kept")
    assert (
        client.get(
            "/auth/me", headers=bearer(login(client, username, password)["access_token"])
        ).status_code
        == 200
    )
    target.wait_rollout()
