"""`helm upgrade` with a changed versions list while clients keep calling, and `helm rollback`."""

import httpx

from tests.e2e.conftest import bearer, login
from tests.e2e.release import Release
from tests.e2e.traffic import Stream
from tests.support.waiting import wait_until

# 1.0 (accepted by the default seed) is withdrawn, 2.0 is new.
CHANGED = {
    "versions": [{"version": "1.0", "supported": False}, {"version": "2.0", "supported": True}]
}


def status_for(client: httpx.Client, auth: dict, version: str) -> int:
    return client.get("/items", headers={**auth, "X-Version": version}).status_code


def test_upgrade_and_rollback_change_the_426_answers_without_a_failed_request(
    release: Release, client: httpx.Client, make_user
):
    username, password, _ = make_user()
    auth = bearer(login(client, username, password)["access_token"])
    assert status_for(client, auth, "1.0") == 200
    secrets = release.generated_secrets()
    assert secrets, "the chart generates its Secrets"
    old_pods = {p.metadata.name for p in release.pods(release.api())}

    def list_items(c: httpx.Client, i: int) -> httpx.Response:
        return c.get("/items", headers=auth, timeout=30)

    with Stream(str(client.base_url), dict(client.headers), list_items) as stream:
        wait_until(lambda: stream.count() >= 5, "the stream to start", timeout=60)
        release.upgrade(CHANGED)
        sent = stream.count()
        wait_until(lambda: stream.count() >= sent + 5, "requests after the upgrade", 60)
    assert stream.failures() == []
    assert {p.metadata.name for p in release.pods(release.api())}.isdisjoint(old_pods)
    # Sessions live in the database: the one from before the rollout still works.
    assert status_for(client, auth, "1.0") == 426
    assert status_for(client, auth, "2.0") == 200
    assert release.generated_secrets() == secrets

    release.rollback()
    assert status_for(client, auth, "1.0") == 200
    assert status_for(client, auth, "2.0") == 426
    assert release.generated_secrets() == secrets
    admin = login(client, *release.admin_credentials())
    assert client.get("/auth/me", headers=bearer(admin["access_token"])).status_code == 200
