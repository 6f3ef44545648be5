"""The image run from a render with existingSecrets: the chart renders no Secret, and the
pods take the admin, pepper and database password from the Secrets made outside it."""

import httpx

from tests.support import helm, mariadb
from tests.support.podman import PodmanChart

AUTH = {"admin-password": "outside-admin-password-1", "password-pepper": "outside-pepper-" * 3}
MYSQL = {"mysql-root-password": "unused-here", "mysql-password": "outside-db-password-1"}


def test_pods_use_the_existing_secrets(image):
    mariadb.require()
    repository, tag = image.rsplit(":", 1)
    objects = helm.render(
        values_files=[helm.CHART / "ci" / "existing-secrets-values.yaml"],
        values={"image": {"registry": "", "repository": repository, "tag": tag}},
    )
    assert helm.find_all(objects, "Secret") == []
    secrets = {"fastapi-example-auth": AUTH, "fastapi-example-mysql-auth": MYSQL}
    with PodmanChart(objects, secrets=secrets) as chart:
        assert chart.database.password == MYSQL["mysql-password"]
        done = chart.run_init_containers()
        assert [d.returncode for d in done] == [0], done[-1].logs
        api = chart.start()
        assert api.wait_for("startup"), api.logs()
        body = {"username": "root-admin", "password": AUTH["admin-password"]}
        response = httpx.post(f"{api.url}/auth/token", json=body, timeout=10)
        assert response.status_code == 200, response.text
        chart.stop(api, pre_stop=False)
