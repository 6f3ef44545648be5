"""The served API's stdout (JSON lines with a request id) and its metrics listener."""

import re
import socket
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api_process import ADMIN, bearer, login, served

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with served(tmp_path_factory.mktemp("api"), LOGIN_MAX_FAILURES="2") as api:
        yield api


def samples(api) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} from the metrics port."""
    response = httpx.get(f"{api.metrics_url}/metrics", timeout=5)
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def counter(api, name: str, **labels: str) -> float:
    return samples(api).get((name, tuple(sorted(labels.items()))), 0.0)


def access_lines(api, request_id: str, wait: bool = True) -> list[dict]:
    """The access log lines of a request id (written just after the response: poll a little)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [
            entry
            for entry in api.log_entries()
            if entry.get("logger") == "fastapi_example.access"
            and entry.get("request_id") == request_id
        ]
        if lines or not wait or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def flush_log(api) -> None:
    """Wait for a marker request's line, so every earlier request's line is written too."""
    marker = f"marker-{time.monotonic_ns()}"
    with api.client() as client:
        client.get("/versions", headers={"X-Request-ID": marker})
    assert access_lines(api, marker)


def test_every_line_is_a_json_object_with_the_basics(api):
    with api.client() as client:
        client.get("/items", headers={"X-Request-ID": "basics-1"})
        client.post("/auth/token", json={"username": "x"})
    flush_log(api)
    entries = api.log_entries()  # fails on any line that is not JSON
    assert entries
    for entry in entries:
        assert isinstance(entry, dict)
        assert {"time", "level", "logger", "message"} <= entry.keys()


def test_the_request_id_is_taken_from_the_header_and_echoed(api):
    with api.client() as client:
        response = client.get("/versions", headers={"X-Request-ID": "trace-abc-123"})
    assert response.headers["x-request-id"] == "trace-abc-123"
    (line,) = access_lines(api, "trace-abc-123")
    assert line["route"] == "/versions"
    assert line["status"] == 200
    assert line["method"] == "GET"


def test_a_request_id_is_made_when_absent_or_outside_its_alphabet(api):
    with api.client() as client:
        made = client.get("/versions").headers["x-request-id"]
        replaced = [
            client.get("/versions", headers={"X-Request-ID": sent}).headers["x-request-id"]
            for sent in ("bad\tid", "x status=200 user_id=1", 'a"b', "é".encode())
        ]
        kept = client.get("/versions", headers={"X-Request-ID": "00-4bf9/Zm9v+Yg==:_.x"})
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert len(access_lines(api, made)) == 1
    # A space or an equals sign could add fields of its own to a LOG_FORMAT=text line.
    assert all(re.fullmatch(r"[0-9a-f]{32}", made) for made in replaced), replaced
    assert kept.headers["x-request-id"] == "00-4bf9/Zm9v+Yg==:_.x"


def test_the_api_port_has_no_metrics(api):
    with api.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 404
    assert "fastapi_example_logins" not in response.text


def test_the_metrics_port_serves_only_metrics(api):
    assert httpx.get(f"{api.metrics_url}/metrics", timeout=5).status_code == 200
    for path in ("/", "/items", "/metrics/x", "/docs"):
        assert httpx.get(f"{api.metrics_url}{path}", timeout=5).status_code == 404, path


def test_the_metrics_port_echoes_nothing_of_a_bad_request(api):
    """The standard library's error page quotes the request line, in its status line too."""
    host, port = api.metrics_url.removeprefix("http://").split(":")
    for request in (b"GET /metrics ZQXJ-" + b"A" * 20000, b"ZQXJ-\x01 / HTTP/1.1"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(request + b"\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert re.search(rb"\b4\d\d\b", answer), answer[:200]
        assert b"ZQXJ" not in answer and len(answer) < 2000, answer[:200]


def test_the_metrics_port_closes_a_connection_that_sends_nothing(api):
    """Each connection holds a thread of the metrics server: a silent one must not keep it."""
    host, port = api.metrics_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n")  # a head never finished
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed by the server, before the client gives up
    assert time.monotonic() - started < 25


def test_login_counters_move_by_outcome(api):
    before = {
        o: counter(api, "fastapi_example_logins_total", outcome=o)
        for o in ("success", "failure", "throttled")
    }
    with api.client() as client:
        login(client, *ADMIN)
        wrong = {"username": "nobody-here", "password": "wrong-password"}
        statuses = [client.post("/auth/token", json=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    after = {o: counter(api, "fastapi_example_logins_total", outcome=o) for o in before}
    assert after["success"] - before["success"] == 1
    assert after["failure"] - before["failure"] == 2
    assert after["throttled"] - before["throttled"] == 1


def in_flight(api) -> float:
    return counter(api, "fastapi_example_requests_in_flight")


def test_requests_in_flight_rise_while_logins_run_and_fall_back_to_zero(api):
    assert in_flight(api) == 0
    statuses: list[int] = []

    def one_login(n: int):
        # From twelve addresses: more logins of one user from one address at once than
        # LOGIN_MAX_FAILURES are throttled while they are checked (docs/api.md).
        with api.client(headers={"X-Forwarded-For": f"192.0.2.{n + 1}"}) as client:
            body = {"username": ADMIN[0], "password": ADMIN[1]}
            statuses.append(client.post("/auth/token", json=body).status_code)

    # Each login hashes with Argon2id for tens of ms: twelve at once overlap in the API.
    threads = [threading.Thread(target=one_login, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    seen = 0.0
    while any(thread.is_alive() for thread in threads):
        seen = max(seen, in_flight(api))
    for thread in threads:
        thread.join()
    assert statuses == [200] * 12
    assert seen >= 2, "never saw two requests in flight at once"
    # The gauge falls just after each response is sent: poll a little.
    deadline = time.monotonic() + 5
    while in_flight(api) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert in_flight(api) == 0


def test_version_rejections_are_counted_by_reason(api):
    name = "fastapi_example_version_rejections_total"
    before = {r: counter(api, name, reason=r) for r in ("unknown", "unsupported")}
    with api.client() as client:
        headers = bearer(login(client, *ADMIN))
        assert client.get("/items", headers={**headers, "X-Version": "0.1"}).status_code == 426
        assert client.get("/items", headers={**headers, "X-Version": "9.9"}).status_code == 426
        assert client.get("/items", headers={**headers, "X-Version": "1.0"}).status_code == 200
    assert counter(api, name, reason="unsupported") - before["unsupported"] == 1
    assert counter(api, name, reason="unknown") - before["unknown"] == 1


def test_probes_are_neither_counted_nor_logged(api):
    with api.client() as client:
        for _ in range(5):
            assert client.get("/healthz", headers={"X-Request-ID": "probe-1"}).status_code == 200
            assert client.get("/readyz", headers={"X-Request-ID": "probe-1"}).status_code == 200
        assert client.get("/versions").status_code == 200
    handlers = {
        dict(labels).get("handler")
        for name, labels in samples(api)
        if name == "http_requests_total"
    }
    assert "/versions" in handlers
    assert not handlers & {"/healthz", "/readyz", "/metrics"}
    flush_log(api)
    assert access_lines(api, "probe-1", wait=False) == []


def test_the_http_families_are_served_as_the_dashboards_query_them(api):
    with api.client() as client:
        assert client.get("/versions").status_code == 200
        assert client.get("/no/such/path").status_code == 404
    response = httpx.get(f"{api.metrics_url}/metrics", timeout=5)
    families = {
        family.name: family
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith("http_")
    }
    # The instrumentator's request and response size summaries are gone: nothing read them.
    assert set(families) == {
        "http_requests",
        "http_request_duration_seconds",
        "http_request_duration_highr_seconds",
    }
    counted = {(s.labels["handler"], s.labels["status"]) for s in families["http_requests"].samples}
    assert {("/versions", "2xx"), ("none", "4xx")} <= counted


def test_no_request_line_carries_a_body_or_query(api):
    secret = "query-secret-value"
    with api.client() as client:
        client.get("/items", params={"name": secret}, headers={"X-Request-ID": "q-1"})
    assert access_lines(api, "q-1")
    assert secret not in api.log_text()


def test_lines_logged_inside_a_request_carry_its_id(api):
    with api.client() as client:
        body = {"username": "someone-else", "password": "not-the-password"}
        response = client.post("/auth/token", json=body, headers={"X-Request-ID": "inner-1"})
    assert response.status_code == 401
    assert access_lines(api, "inner-1")
    messages = [e["message"] for e in api.log_entries() if e.get("request_id") == "inner-1"]
    assert "login failed" in messages
