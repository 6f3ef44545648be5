"""The one small interface the end-to-end scenarios use to drive a deployment.

Two implementations: `kind` (kind_target.py: a real cluster through the kubernetes client and
helm) and `local` (local_target.py: the chart's rendered containers run with podman against
MariaDB). Scenarios only call what is here, so each one runs the same code on both.
"""

import time
from collections.abc import Callable


class KindOnly(Exception):
    """The scenario needs a cluster-only feature (the message says which)."""


class Target:
    name = "abstract"
    #: Where the API answers (the Ingress on kind, the Service stand-in locally).
    base_url: str
    #: Extra headers every request needs (the Ingress host on kind).
    headers: dict[str, str]
    #: False behind an L7 proxy that drops hop-by-hop headers such as Upgrade (Traefik).
    keeps_upgrade_header = True

    def admin_credentials(self) -> tuple[str, str]:
        """The first admin the migrate initContainer created, read from the chart's Secret."""
        raise NotImplementedError

    def api_replicas(self) -> int:
        raise NotImplementedError

    def wait_rollout(self) -> None:
        """Return when every API replica of the current revision is ready."""
        raise NotImplementedError

    def run_chart_tests(self) -> None:
        """`helm test`: run the chart's test pods, raise if one fails."""
        raise NotImplementedError

    def run_cleanup_job(self) -> str:
        """Run the token-cleanup CronJob's job template now; return its logs, raise on failure."""
        raise NotImplementedError

    def restart_api_instance(self) -> None:
        """Delete one API pod the way Kubernetes does; return once its replacement is ready."""
        raise NotImplementedError

    def restart_database(self) -> None:
        """Stop and start the database; return once it answers again."""
        raise NotImplementedError

    def current_values(self) -> dict:
        """The release's values (defaults merged with every override so far)."""
        raise NotImplementedError

    def upgrade(self, values: dict) -> None:
        """Upgrade the release with these values on top of the current ones; wait for rollout."""
        raise NotImplementedError

    def rollback(self) -> None:
        """`helm rollback` to the previous revision."""
        raise KindOnly("helm rollback needs a Helm release in a cluster")

    def sql(self, statement: str) -> None:
        """Run one SQL statement in the app's database (test set-up, e.g. ageing sessions)."""
        raise NotImplementedError

    def cluster_objects(self, kind: str, label: str = "") -> list[str]:
        """Names of the release's objects of a kind (Ingress, ServiceMonitor, …)."""
        raise KindOnly(f"{kind} objects exist only in a cluster")

    def has_crd(self, name: str) -> bool:
        raise KindOnly("CustomResourceDefinitions exist only in a cluster")

    def close(self) -> None:
        pass


def wait_until(check: Callable[[], bool], what: str, timeout: float, every: float = 0.5) -> None:
    """Poll `check` until it is true; fail with `what` after `timeout` seconds (a bound, not a
    measurement: nothing asserts on how long it took)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception as error:  # a check that cannot answer yet counts as "not yet"
            last = error
        else:
            last = None
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}" + (f": {last}" if last else ""))
        time.sleep(every)
