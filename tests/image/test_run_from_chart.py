"""The image run the way the rendered chart says (command, args, env from the ConfigMap and
Secrets, mounts, ports, probes, security context), against MariaDB standing in for the
chart's MySQL StatefulSet (no image can be pulled here)."""

import datetime as dt
import json

import httpx
import pytest

from tests.support import helm, mariadb
from tests.support.podman import podman


@pytest.fixture(scope="module")
def api(chart):
    done = chart.run_init_containers()
    assert [(d.name, d.returncode) for d in done] == [("migrate", 0)], done[-1].logs
    instance = chart.start()
    assert instance.wait_for("startup"), instance.logs()
    yield instance
    chart.stop(instance, pre_stop=False)


def admin_login(chart, api) -> dict:
    env = chart.resolve_env(api.container)
    body = {"username": env["ADMIN_USERNAME"], "password": env["ADMIN_PASSWORD"]}
    response = httpx.post(f"{api.url}/auth/token", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_migrate_initcontainer_is_idempotent_and_seeds_the_charts_versions(chart, api):
    again = chart.run_init_containers()
    assert [d.returncode for d in again] == [0], again[-1].logs
    with mariadb.connect(chart.database.name) as conn, conn.cursor() as cur:
        cur.execute("SELECT version, supported FROM versions ORDER BY version")
        rows = [{"version": v, "supported": bool(s)} for v, s in cur.fetchall()]
    expected = sorted(helm.chart_values()["versions"], key=lambda v: v["version"])
    assert rows == expected


def test_api_passes_its_probes_on_the_declared_ports(api):
    for kind in ("startup", "liveness", "readiness"):
        assert api.probe(kind), (kind, api.logs())
    metrics = httpx.get(f"http://127.0.0.1:{api.ports['metrics']}/metrics", timeout=5)
    assert metrics.status_code == 200 and "process_resident_memory_bytes" in metrics.text
    assert httpx.get(f"{api.url}/metrics", timeout=5).status_code == 404


def test_login_and_item_round_trip(chart, api):
    tokens = admin_login(chart, api)
    me = httpx.get(f"{api.url}/auth/me", headers=bearer(tokens), timeout=5).json()
    assert me["username"] == chart.resolve_env(api.container)["ADMIN_USERNAME"]
    items = f"{api.url}/items"
    created = httpx.post(
        items,
        json={"name": "from-the-chart", "description": "podman"},
        headers=bearer(tokens),
        timeout=5,
    )
    assert created.status_code == 201, created.text
    item = created.json()
    read = httpx.get(f"{items}/{item['id']}", headers=bearer(tokens), timeout=5)
    assert read.json()["name"] == "from-the-chart"
    patched = httpx.patch(
        f"{items}/{item['id']}", json={"description": "changed"}, headers=bearer(tokens), timeout=5
    )
    assert patched.status_code == 200 and patched.json()["description"] == "changed"
    assert httpx.delete(f"{items}/{item['id']}", headers=bearer(tokens), timeout=5).status_code in (
        200,
        204,
    )
    assert httpx.get(f"{items}/{item['id']}", headers=bearer(tokens), timeout=5).status_code == 404


def test_versions_from_the_chart_decide_426(chart, api):
    tokens = admin_login(chart, api)
    for version, status in (("1.0", 200), ("0.1", 426), ("9.9", 426)):
        response = httpx.get(
            f"{api.url}/auth/me", headers=bearer(tokens) | {"X-Version": version}, timeout=5
        )
        assert response.status_code == status, (version, response.text)


def test_container_runs_with_the_pods_restricted_security_context(api):
    info = api.inspect()
    assert info["HostConfig"]["ReadonlyRootfs"] is True
    assert info["Config"]["User"] == "10001:10001"
    assert "no-new-privileges" in " ".join(info["HostConfig"].get("SecurityOpt") or [])
    assert info["EffectiveCaps"] in (None, [])
    probe = (
        "import os\n"
        "def w(p):\n"
        "    try:\n"
        "        open(p, 'w').close(); return True\n"
        "    except OSError:\n"
        "        return False\n"
        "print(os.getuid(), w('/tmp/x'), w('/app/x'), w('/opt/venv/x'), w('/x'))"
    )
    done = podman("exec", api.name, "python3", "-c", probe)
    assert done.stdout.split() == ["10001", "True", "False", "False", "False"]


def test_cronjob_command_deletes_expired_sessions(chart, api):
    expired, live = admin_login(chart, api), admin_login(chart, api)
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=1)
    with mariadb.connect(chart.database.name) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM tokens ORDER BY id")
        ids = [row[0] for row in cur.fetchall()]
        assert len(ids) == 2  # MAX_SESSIONS_PER_USER from the chart's ConfigMap
        cur.execute(
            "UPDATE tokens SET refresh_expires_at = %s, access_expires_at = %s WHERE id = %s",
            (past, past, ids[0]),
        )
    done = chart.run_job()
    assert done.returncode == 0, done.logs
    summary = [json.loads(line) for line in done.logs.splitlines() if line.startswith("{")][-1]
    assert summary["deleted_sessions"] == 1
    with mariadb.connect(chart.database.name) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM tokens")
        assert [row[0] for row in cur.fetchall()] == [ids[1]]
    assert httpx.get(f"{api.url}/auth/me", headers=bearer(expired), timeout=5).status_code == 401
    assert httpx.get(f"{api.url}/auth/me", headers=bearer(live), timeout=5).status_code == 200


def test_the_helm_test_pod_logs_in_through_the_api(chart, api):
    """The chart's `helm test` pod, run as rendered; only the Service's DNS name is replaced
    by this instance's address (no cluster DNS here)."""
    test = helm.find(chart.objects, "Pod")
    assert test["metadata"]["annotations"]["helm.sh/hook"] == "test"
    done = chart.run_job("Pod", env={"API_URL": api.url})
    assert done.returncode == 0, done.logs
    assert "logged in as admin" in done.logs
    wrong = chart.run_job("Pod", env={"API_URL": api.url, "ADMIN_PASSWORD": "not-it"})
    assert wrong.returncode != 0


def test_upgrade_with_changed_versions_changes_the_426_answers(chart, api, image):
    """helm upgrade with a new `versions` list: the rollout (migrate, then new pods) applies it.
    Runs last in this module: it replaces the running instance."""
    repository, tag = image.rsplit(":", 1)
    versions = [{"version": "1.0", "supported": False}, {"version": "2.0", "supported": True}]
    chart.rerender(
        helm.render(
            values={
                "image": {"registry": "", "repository": repository, "tag": tag},
                "versions": versions,
            }
        )
    )
    assert [d.returncode for d in chart.run_init_containers()] == [0]
    new = chart.restart(api)
    assert new.wait_for("startup") and new.wait_for("readiness"), new.logs()
    tokens = admin_login(chart, new)  # Secrets kept across the upgrade, so the admin still logs in
    for version, status in (("1.0", 426), ("2.0", 200)):
        response = httpx.get(
            f"{new.url}/auth/me", headers=bearer(tokens) | {"X-Version": version}, timeout=5
        )
        assert response.status_code == status, (version, response.text)
    chart.stop(new, pre_stop=False)
