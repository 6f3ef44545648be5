"""Secrets made outside the chart (sealed-secrets, external-secrets, kubectl) named by
`auth.existingSecret` and `mysql.auth.existingSecret`: the chart renders no Secret, MySQL is
initialised with the outside password and the API logs its admin in with the outside one."""

import yaml
from kubernetes import client

from tests.e2e.release import CHART, Cluster, rest_checks

SECRETS = {
    "fastapi-example-auth": {
        "admin-password": "outside-admin-password-1",
        "password-pepper": "outside-pepper-" * 3,
    },
    "fastapi-example-mysql-auth": {
        "mysql-root-password": "outside-root-password-1",
        "mysql-password": "outside-db-password-1",
    },
}


def test_the_release_runs_on_secrets_made_outside_the_chart(cluster: Cluster, namespaces):
    namespace = namespaces("e2e-secrets")
    for name, data in SECRETS.items():
        secret = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
        cluster.core.create_namespaced_secret(namespace, secret)
    values = yaml.safe_load((CHART / "ci" / "existing-secrets-values.yaml").read_text())
    release = cluster.install(namespace, values=values)

    assert [o for o in release.manifest() if o["kind"] == "Secret"] == []
    # MySQL took the outside password for the app's user: the client in its pod logs in with it.
    mysql_env = release.exec(release.mysql_pod(), ["printenv", "MYSQL_PASSWORD"]).strip()
    assert mysql_env == SECRETS["fastapi-example-mysql-auth"]["mysql-password"]
    assert release.sql("SELECT CURRENT_USER()")[0][0].startswith("fastapi_example@")
    rest_checks(
        release.ingress_host(),
        SECRETS["fastapi-example-auth"]["admin-password"],
        username=values["auth"]["admin"]["username"],
    )
