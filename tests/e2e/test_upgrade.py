"""`helm upgrade` with a changed versions list, and `helm rollback` (kind only)."""

import httpx
import pytest

from tests.e2e.conftest import bearer, login
from tests.e2e.target import Target

# 1.0 (accepted by the default seed) is withdrawn, 2.0 is new.
CHANGED = {
    "versions": [{"version": "1.0", "supported": False}, {"version": "2.0", "supported": True}]
}


def status_for(client: httpx.Client, auth: dict, version: str) -> int:
    return client.get("/items", headers={**auth, "X-Version": version}).status_code


def test_upgrade_with_changed_versions(target: Target, client: httpx.Client, make_user):
    username, password, _ = make_user()
    assert (
        status_for(client, bearer(login(client, username, password)["access_token"]), "1.0") == 200
    )
    original = target.current_values().get("versions")
    assert original, "the chart's default values carry the versions list"
    try:
        target.upgrade(CHANGED)
        # Sessions live in the database, so they survive the rollout; log in again anyway.
        auth = bearer(login(client, username, password)["access_token"])
        assert status_for(client, auth, "1.0") == 426
        assert status_for(client, auth, "2.0") == 200
    finally:
        target.upgrade({"versions": original})
    auth = bearer(login(client, username, password)["access_token"])
    assert status_for(client, auth, "1.0") == 200


@pytest.mark.kind_only("helm rollback")
def test_rollback_restores_the_versions(target: Target, client: httpx.Client, make_user):
    username, password, _ = make_user()
    target.upgrade(CHANGED)
    auth = bearer(login(client, username, password)["access_token"])
    assert status_for(client, auth, "1.0") == 426
    target.rollback()
    auth = bearer(login(client, username, password)["access_token"])
    assert status_for(client, auth, "1.0") == 200
    assert status_for(client, auth, "2.0") == 426
