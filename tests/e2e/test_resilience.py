"""Losing an API pod while clients write, and losing the MySQL pod."""

import uuid

import httpx

from tests.e2e.conftest import bearer, login
from tests.e2e.release import Release
from tests.e2e.traffic import Stream
from tests.support.waiting import wait_until


def test_no_answered_write_is_lost_while_an_api_pod_is_deleted(
    release: Release, client: httpx.Client, make_user
):
    assert release.api_replicas() >= 2, "the chart's default: two replicas and a PDB"
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    prefix = f"stream-{uuid.uuid4().hex[:6]}"

    def create(c: httpx.Client, i: int) -> httpx.Response:
        return c.post("/items", headers=auth, json={"name": f"{prefix}-{i}"}, timeout=30)

    with Stream(str(client.base_url), dict(client.headers), create) as stream:
        wait_until(lambda: stream.count() >= 5, "the stream to start", timeout=60)
        release.delete_api_pod()
        sent = stream.count()
        wait_until(lambda: stream.count() >= sent + 5, "requests after the deletion", 60)
    assert stream.failures() == []
    created = {r.json()["name"] for r in stream.answers if r.status_code == 201}
    assert len(created) == len(stream.answers)
    listed = client.get("/items", headers=auth, params={"name": prefix, "limit": 100})
    total = listed.json()["total"]
    names = set()
    for page in range(1, total // 100 + 2):
        names |= {
            i["name"]
            for i in client.get(
                "/items", headers=auth, params={"name": prefix, "limit": 100, "page": page}
            ).json()["items"]
        }
    assert names == created


def test_database_loss_answers_503_and_the_data_survives(
    release: Release, client: httpx.Client, make_user
):
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    name = f"durable-{uuid.uuid4().hex[:8]}"
    created = client.post("/items", headers=auth, json={"name": name, "description": "kept"})
    assert created.status_code == 201
    item_id = created.json()["id"]
    statefulset = release.one("StatefulSet")
    old = release.mysql_pod()

    (api_pod, *_) = release.pods(release.api(), ready_only=True)
    readyz = [
        "python3",
        "-c",
        (
            "import urllib.request, urllib.error\n"
            "try: print(urllib.request.urlopen('http://127.0.0.1:8080/readyz', timeout=5).status)\n"
            "except urllib.error.HTTPError as e: print(e.code)\n"
        ),
    ]

    release.core.delete_namespaced_pod(old, release.namespace, grace_period_seconds=0)
    # Until the StatefulSet's new pod answers: 503 with Retry-After through the Ingress for a
    # request that needs the database, and 503 from the pods' /readyz.
    seen: dict[str, object] = {}

    def outage_seen() -> bool:
        answer = client.get(f"/items/{item_id}", headers=auth)
        if answer.status_code == 503 and "Retry-After" in answer.headers:
            seen["answer"] = answer
        if release.exec(api_pod.metadata.name, readyz, container="api").strip() == "503":
            seen["readyz"] = True
        return {"answer", "readyz"} <= seen.keys()

    wait_until(outage_seen, "a 503 and /readyz 503 while MySQL is down", timeout=60, every=0)
    assert int(seen["answer"].headers["Retry-After"]) >= 1
    assert "detail" in seen["answer"].json()

    wait_until(lambda: release.pods(statefulset, ready_only=True), "MySQL back", 300, 2)
    # The pool replaces dead connections on its own; readiness comes back.
    wait_until(
        lambda: client.get(f"/items/{item_id}", headers=auth).status_code == 200,
        "the API to serve from the restarted database",
        timeout=180,
        every=2,
    )
    item = client.get(f"/items/{item_id}", headers=auth).json()
    assert (item["name"], item["description"]) == (name, "kept")
    again = login(client, username, password)
    assert client.get("/auth/me", headers=bearer(again["access_token"])).status_code == 200
    release.wait_rollout()
