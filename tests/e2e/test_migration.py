"""Two API replicas starting at once against an empty database: their `migrate`
initContainers meet at MySQL's lock; exactly one runs the migration, both become Ready."""

import json
import threading

from alembic.config import Config
from alembic.script import ScriptDirectory

from fastapi_example.migrate import LOCK_NAME
from fastapi_example.settings import PACKAGE_DIR
from tests.e2e.release import Cluster
from tests.support.waiting import wait_until

HOLD_SECONDS = 35  # longer than the driver's read timeout (30 s): the wait goes on in steps


def head() -> str:
    """The newest revision of the API's migrations."""
    config = Config()
    config.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


def migrate_log(release, pod) -> list[dict]:
    return [json.loads(line) for line in release.logs(pod, "migrate").splitlines()]


def test_exactly_one_replica_migrates_an_empty_database(cluster: Cluster, namespaces):
    # MySQL first, with no API pod: its database is empty until the replicas start.
    release = cluster.install(namespaces(), values={"replicaCount": 0})
    assert release.sql("SHOW TABLES") == []
    # Hold the replicas' lock while both start, so both are waiting on it at the same time.
    hold = f"SELECT GET_LOCK('{LOCK_NAME}', 0), SLEEP({HOLD_SECONDS}), RELEASE_LOCK('{LOCK_NAME}')"
    holder = threading.Thread(target=release.sql, args=(hold,))
    holder.start()
    try:
        wait_until(
            lambda: release.sql(f"SELECT IS_USED_LOCK('{LOCK_NAME}')")[0][0] != "NULL",
            "the test to hold the lock",
            timeout=30,
        )
        release.cluster.kubectl(
            "scale",
            "deployment",
            release.api()["metadata"]["name"],
            "--replicas=2",
            "-n",
            release.namespace,
        )
        release.wait_rollout(timeout=300)
    finally:
        holder.join(timeout=HOLD_SECONDS + 60)

    pods = release.pods(release.api(), ready_only=True)
    assert len(pods) == 2
    logs = {p.metadata.name: migrate_log(release, p.metadata.name) for p in pods}
    migrated = [
        name
        for name, lines in logs.items()
        if any(line["message"].startswith("Running upgrade") for line in lines)
    ]
    assert len(migrated) == 1, logs
    for lines in logs.values():
        (took,) = [line for line in lines if line["message"] == "took the migration lock"]
        assert took["waited_s"] > 0  # each waited on the test, the second also on the first
        assert lines[-1]["message"] == "database migrated and seeded"
    assert [row[0] for row in release.sql("SELECT version_num FROM alembic_version")] == [head()]
