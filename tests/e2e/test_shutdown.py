"""An API pod deleted while requests are in flight on it, as a rollout or a drain does: after
its preStop sleep the kubelet sends SIGTERM, every request the pod had started completes, and
the container exits on its own with code 0 within terminationGracePeriodSeconds (the SIGKILL
at the end of the grace period would show as 137).

The requests reach that one pod through `kubectl port-forward` (through the Service they would
spread over the replicas). Logins cost Argon2's CPU each, so most are still queued in the pod
when it is deleted."""

import threading
import time

import httpx
from kubernetes import watch

from tests.e2e.release import Release

CALIBRATION = 40
# Seconds the burst should go on after SIGTERM: well past the pace's error, well within
# the API's graceful shutdown.
AFTER_SIGTERM = 6
# Enough users that none has more than a few logins in flight at once (the throttle's limit
# per username counts them), for bursts of up to MOST.
USERS, MOST = 80, 1000
SENT_BEFORE_DELETION = 2.5


def exit_codes(release: Release, pod: str, found: dict, stop: threading.Event) -> None:
    """The api container's exit code, from the pod's status updates until it is deleted."""
    stream = watch.Watch().stream(
        release.core.list_namespaced_pod,
        release.namespace,
        field_selector=f"metadata.name={pod}",
        timeout_seconds=180,
    )
    for event in stream:
        for status in event["object"].status.container_statuses or ():
            if status.name == "api" and status.state.terminated:
                found["exit_code"] = status.state.terminated.exit_code
        if event["type"] == "DELETED" or stop.is_set():
            return


def burst(base: str, logins: list[dict], results: list, ready: threading.Barrier):
    """The logins at once, each from an address of its own (X-Forwarded-For: the API trusts
    its loopback peer, here kubectl's forward); each result is (status or error, when it
    ended). Each connects when the burst starts: one opened earlier could sit idle past the
    server's keep-alive timeout while the others connect, and be closed under its request."""

    def login(i: int, body: dict):
        forwarded = {"X-Forwarded-For": f"10.77.{i // 250}.{i % 250 + 1}"}
        with httpx.Client(base_url=base, timeout=120, headers=forwarded) as client:
            ready.wait()
            try:
                outcome = client.post("/auth/token", json=body).status_code
            except httpx.HTTPError as error:
                outcome = repr(error)
            results.append((outcome, time.monotonic()))

    threads = [threading.Thread(target=login, args=(i, b)) for i, b in enumerate(logins)]
    for thread in threads:
        thread.start()
    return threads


def logins(users: list[tuple[str, str, int]], count: int) -> list[dict]:
    """`count` login bodies spread over the users: a login in flight counts toward its user's
    throttle until its password is checked, so no user may have many at once."""
    return [
        {"username": users[i % len(users)][0], "password": users[i % len(users)][1]}
        for i in range(count)
    ]


def test_a_deleted_pod_completes_its_requests_and_exits_cleanly(release: Release, make_user):
    deployment = release.api()
    pod_spec = deployment["spec"]["template"]["spec"]
    grace = pod_spec["terminationGracePeriodSeconds"]
    (api,) = [c for c in pod_spec["containers"] if c["name"] == "api"]
    pre_stop = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert grace > pre_stop
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    victim = release.pods(deployment, ready_only=True)[0].metadata.name
    users = [make_user() for _ in range(USERS)]

    with release.port_forward(victim, ports["http"]) as local:
        base = f"http://127.0.0.1:{local[ports['http']]}"
        # The pod's pace at logins, so that the burst below outlasts the preStop sleep by a
        # few seconds on this machine, however fast or loaded, and ends well within the grace
        # period. Taken over the second half of the answers, once connecting is over.
        calibration: list = []
        ready = threading.Barrier(CALIBRATION + 1)
        threads = burst(base, logins(users, CALIBRATION), calibration, ready)
        ready.wait()
        for thread in threads:
            thread.join(timeout=120)
        assert [r for r, _ in calibration] == [200] * CALIBRATION, calibration
        ended = sorted(t for _, t in calibration)
        half = CALIBRATION // 2
        per_second = half / (ended[-1] - ended[half - 1])
        lasting = SENT_BEFORE_DELETION + pre_stop + AFTER_SIGTERM
        count = min(MOST, max(CALIBRATION, round(per_second * lasting)))
        print(f"{per_second:.1f} logins/s: a burst of {count}")

        results: list = []
        ready = threading.Barrier(count + 1)
        threads = burst(base, logins(users, count), results, ready)
        ready.wait()
        # Sent before the deletion, read by the pod during its preStop sleep at the latest.
        time.sleep(SENT_BEFORE_DELETION - 0.5)
        found: dict = {}
        stop = threading.Event()
        watcher = threading.Thread(target=exit_codes, args=(release, victim, found, stop))
        watcher.start()
        time.sleep(0.5)  # the watch is open before the deletion
        assert len(results) < count, "the burst ended before the deletion"
        deleted = time.monotonic()
        release.core.delete_namespaced_pod(victim, release.namespace)
        for thread in threads:
            thread.join(timeout=grace + 60)
        watcher.join(timeout=grace + 60)
        stop.set()

    assert [r for r, _ in results] == [200] * count, results
    # SIGTERM comes once the preStop sleep is over: these were still in flight then.
    late = [t for _, t in results if t > deleted + pre_stop + 0.5]
    print(f"{len(late)} of {count} logins ended after SIGTERM")
    assert late, "no login was still in flight when SIGTERM came"
    assert found.get("exit_code") == 0, found
    release.wait_rollout()
