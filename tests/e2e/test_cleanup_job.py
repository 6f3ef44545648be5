"""The token-cleanup CronJob: a Job made from it runs in the cluster, deletes expired sessions
and keeps live ones, and writes its JSON summary to its log."""

import hashlib
import json

import httpx

from tests.e2e.conftest import bearer, login
from tests.e2e.release import Release


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def count_sessions(release: Release, token: str) -> int:
    # Statements built from hex digests only (no input), so plain text is safe here.
    rows = release.sql(f"SELECT COUNT(*) FROM tokens WHERE access_token_hash = '{digest(token)}'")  # noqa: S608
    return int(rows[0][0])


def test_cleanup_job_deletes_expired_sessions_only(
    release: Release, client: httpx.Client, make_user
):
    username, password, _ = make_user()
    expired = login(client, username, password)
    live = login(client, username, password)
    # Age one session past its refresh expiry (no waiting: the job compares with now).
    release.sql(
        "UPDATE tokens SET access_expires_at = '2001-01-01 00:00:00', "  # noqa: S608
        "refresh_expires_at = '2001-01-01 00:00:00' "
        f"WHERE access_token_hash = '{digest(expired['access_token'])}'"
    )
    assert count_sessions(release, expired["access_token"]) == 1

    logs = release.run_cleanup_job()

    (summary,) = [
        json.loads(line) for line in logs.splitlines() if '"token cleanup finished"' in line
    ]
    assert summary["level"] == "INFO"
    assert summary["deleted_sessions"] >= 1
    assert count_sessions(release, expired["access_token"]) == 0
    assert count_sessions(release, live["access_token"]) == 1
    assert client.get("/auth/me", headers=bearer(live["access_token"])).status_code == 200
    gone = client.post("/auth/refresh", json={"refresh_token": expired["refresh_token"]})
    assert gone.status_code == 401
