"""The served API (uvicorn, as `fastapi-example serve` runs it) against a client that sends
too much: an endless head, a body far over the limit. Loopback only, bounded amounts."""

import json
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.api_process import (
    ADMIN,
    COMMAND,
    ApiProcess,
    api_env,
    bearer,
    login,
    run_migrate,
    served,
)

pytestmark = pytest.mark.slow
CHUNK = b"x" * 65536
SEND_AT_MOST = 64 * 1024 * 1024  # what the client would send if the server never stopped it
HEAD_SECONDS = 3
BODY_SECONDS = 3


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    with served(
        tmp_path_factory.mktemp("limits"),
        HEADER_TIMEOUT_SECONDS=str(HEAD_SECONDS),
        BODY_TIMEOUT_SECONDS=str(BODY_SECONDS),
    ) as api:
        yield api


def connect(api) -> socket.socket:
    host, port = api.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    return sock


def send_until_refused(sock: socket.socket, head: bytes, chunk: bytes = CHUNK) -> int:
    """Send the head, then data until the server closes; how many bytes it took."""
    sent = 0
    try:
        sock.sendall(head)
        while sent < SEND_AT_MOST:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def answer(sock: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def rss_kib(api) -> int:
    status = Path(f"/proc/{api.process.pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0])


def test_an_endless_header_is_431_and_the_connection_closed(api):
    before = rss_kib(api)
    with connect(api) as sock:
        sent = send_until_refused(sock, b"GET /healthz HTTP/1.1\r\nHost: api\r\nX-Long: ")
        response = answer(sock)
    assert response.startswith(b"HTTP/1.1 431 "), response[:100]
    assert b'{"detail": "Request header fields too large"}' in response
    assert sent < SEND_AT_MOST  # the server stopped it
    assert rss_kib(api) - before < 32 * 1024  # it kept none of what was sent
    with api.client() as client:  # and serves others as before
        assert client.get("/healthz", headers={"X-Fine": "y" * 8000}).status_code == 200


def test_a_huge_declared_body_is_413_before_it_is_sent(api):
    """The 413 comes back while the client has sent nothing of the body: the server did not
    wait for it."""
    with connect(api) as sock:
        sock.sendall(
            b"POST /auth/refresh HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        response = answer(sock)
    assert response.startswith(b"HTTP/1.1 413 "), response[:100]
    assert json.loads(response.partition(b"\r\n\r\n")[2]) == {"detail": "Request body too large"}


def test_an_endless_chunked_body_is_413_and_not_kept(api):
    before = rss_kib(api)
    with connect(api) as sock:
        sent = send_until_refused(
            sock,
            b"POST /auth/refresh HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            chunk=b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK),
        )
        response = answer(sock)
    assert response.startswith(b"HTTP/1.1 413 "), response[:100]
    assert sent < SEND_AT_MOST
    assert rss_kib(api) - before < 32 * 1024


def test_the_head_limit_holds_under_the_reloader_too(tmp_path):
    """`serve --reload` (the dev overlay's command) hands the protocol to a worker process
    it spawns: the protocol must survive that (it once could not be pickled) and keep its cap."""
    env = api_env(DATABASE_URL=f"sqlite:///{tmp_path}/api.db")
    assert run_migrate(env).returncode == 0
    log = tmp_path / "serve.log"
    with log.open("ab") as out:
        server = subprocess.Popen(
            [*COMMAND, "serve", "--reload"], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    api = ApiProcess(env, log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{api.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"serve --reload did not answer:\n{log.read_text()}")
        with connect(api) as sock:
            send_until_refused(sock, b"GET /healthz HTTP/1.1\r\nHost: api\r\nX-Long: ")
            assert answer(sock).startswith(b"HTTP/1.1 431 ")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def responses(sock: socket.socket) -> list[bytes]:
    """The status line of every answer on the connection until the server closes it (an
    answer follows the body before it directly)."""
    return re.findall(rb"HTTP/1\.1 \d{3} [^\r]*", answer(sock))


def test_a_body_in_the_chunk_that_ends_the_head_is_not_counted_as_head(api):
    """A request sent in one write, its body nearly as large as MAX_BODY_BYTES: its head
    ended in the chunk, and the body after it is not head (it was once counted as head: the
    request ran, then the client got 431)."""
    with api.client() as client:
        token = login(client, *ADMIN)["access_token"]
    name = f"one-write-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"name": name}).encode().ljust(16300)
    with connect(api) as sock:
        sock.sendall(
            b"POST /items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (token.encode(), len(body), body)
        )
        assert responses(sock) == [b"HTTP/1.1 201 Created"]


def test_pipelined_requests_under_the_head_limit_are_all_answered(api):
    """Two requests in one write, each head under MAX_HEADER_BYTES and both together over
    it: both are answered in order (a head was once counted with the request before it)."""
    with connect(api) as sock:
        sock.sendall(
            b"GET /roles HTTP/1.1\r\nHost: api\r\nX-Pad: %s\r\n\r\n"
            b"GET /roles HTTP/1.1\r\nHost: api\r\nX-Pad: %s\r\nConnection: close\r\n\r\n"
            % (b"p" * 9000, b"p" * 9000)
        )
        assert responses(sock) == [b"HTTP/1.1 200 OK"] * 2
    assert not errors_logged(api)


def test_an_endless_head_after_a_pipelined_request_is_refused_after_its_answer(api):
    """A login, then at once an endless header on the same connection: the login is answered
    first (HTTP/1.1 answers in order), then 431, and nothing fails in the server."""
    body = json.dumps({"username": ADMIN[0], "password": ADMIN[1]}).encode()
    login_request = (
        b"POST /auth/token HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with connect(api) as sock:
        send_until_refused(sock, login_request + b"GET /roles HTTP/1.1\r\nX-Long: ")
        assert responses(sock) == [
            b"HTTP/1.1 200 OK",
            b"HTTP/1.1 431 Request Header Fields Too Large",
        ]
    assert not errors_logged(api)


MALFORMED_HEADS = [
    b"NOT-HTTP-AT-ALL %s\r\n\r\n",
    b"GET /roles%s HTTP/1.1 trailing\r\nHost: api\r\n\r\n",
    b"GET /roles HTTP/1.1\r\nHost: api\r\nBad Name %s: x\r\n\r\n",
    b"GET /roles HTTP/1.1\r\nHost: api\r\nX-Control: %s\x01\x7f\r\n\r\n",
    b"GET /roles HTTP/1.1\r\nHost: api\r\nContent-Length: -1%s\r\n\r\n",
    b"\x00\x16\x03\x01%s\r\n\r\n",  # a TLS handshake's first bytes on the plain port
]


@pytest.mark.parametrize("head", MALFORMED_HEADS)
def test_a_malformed_head_is_a_json_400_that_quotes_nothing(api, head):
    marker = uuid.uuid4().hex.encode()
    with connect(api) as sock:
        sock.sendall(head % marker)
        response = answer(sock)  # and the server closes the connection
    status, _, body = response.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response[:100]
    assert b"content-type: application/json" in status
    assert json.loads(body) == {"detail": "Invalid HTTP request"}
    assert marker.decode() not in api.log_text()
    assert not errors_logged(api)


def test_a_body_the_server_cannot_read_is_a_json_400_at_once(api):
    """A bad chunk in the body of the request being served: the route would wait for the
    rest of a body that can never come, so the server answers and closes at once."""
    request_id = uuid.uuid4().hex
    with connect(api) as sock:
        sock.sendall(
            b"POST /auth/refresh HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"X-Request-ID: bad-chunk-%s\r\n"
            % request_id.encode()
            + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\nnot-a-size\r\n'
        )
        response = answer(sock)  # the socket's timeout would end a wait for a body
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response[:100]
    assert response.endswith(b'{"detail": "Invalid HTTP request"}')
    assert not errors_logged(api)
    assert logged_status(api, f"bad-chunk-{request_id}") == 400


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_sent_too_slowly_is_408_and_the_connection_closed(api, framing):
    """A byte of the body every second, for longer than BODY_TIMEOUT_SECONDS: refused at
    the timeout, not served whenever the client finishes."""
    with api.client() as client:
        tokens = login(client, *ADMIN)
    token = tokens["access_token"]
    body = json.dumps({"name": f"slow-{uuid.uuid4().hex[:8]}"}).encode()
    length = b"Content-Length: %d" % len(body)
    if framing == "chunked":
        length, body = b"Transfer-Encoding: chunked", b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    request_id = f"slow-{uuid.uuid4().hex}"
    with connect(api) as sock:
        sock.sendall(
            b"POST /items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nX-Request-ID: %s\r\n%s\r\n\r\n"
            % (token.encode(), request_id.encode(), length)
        )
        started = time.monotonic()
        try:
            for byte in body[:-1]:  # never the last: the body would be complete
                sock.sendall(bytes([byte]))
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the server: what the test expects
        response = answer(sock)
        waited = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), response[:100]
    assert response.endswith(b'{"detail": "Request body not received in time"}')
    assert BODY_SECONDS - 1 <= waited < BODY_SECONDS + 10
    assert logged_status(api, request_id) == 408
    with api.client() as client:  # nothing was created, and the server serves others
        items = client.get("/items", params={"name": "slow-"}, headers=bearer(tokens)).json()
        assert items["total"] == 0


def test_a_body_that_arrives_in_time_in_pieces_is_served(api):
    with api.client() as client:
        token = login(client, *ADMIN)["access_token"]
    body = json.dumps({"name": f"pieces-{uuid.uuid4().hex[:8]}"}).encode()
    with connect(api) as sock:
        sock.sendall(
            b"POST /items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (token.encode(), len(body))
        )
        for piece in (body[:5], body[5:10], body[10:]):
            time.sleep(0.5)
            sock.sendall(piece)
        assert responses(sock) == [b"HTTP/1.1 201 Created"]


def test_a_malformed_head_after_a_pipelined_request_is_refused_after_its_answer(api):
    with connect(api) as sock:
        sock.sendall(b"GET /roles HTTP/1.1\r\nHost: api\r\n\r\nGET /roles HTTP/1.1 x\r\n\r\n")
        assert responses(sock) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request"]
    with api.client() as client:  # and serves others as before
        assert client.get("/roles").status_code == 200


def errors_logged(api) -> list[dict]:
    return [entry for entry in api.log_entries() if entry["level"] == "ERROR"]


def logged_status(api, request_id: str) -> int:
    """The status in the request's access line: what the client was sent."""
    for _ in range(50):  # the line is written when the route's handler has returned
        for entry in api.log_entries():
            if entry["message"] == "request" and entry["request_id"] == request_id:
                return entry["status"]
        time.sleep(0.1)
    raise AssertionError(f"no access line for request {request_id}")


@pytest.mark.parametrize("sent", [b"", b"GET /roles HTTP/1.1\r\nHost: api\r\n"])
def test_a_head_not_sent_in_time_is_408_and_the_connection_closed(api, sent):
    """A connection that sends nothing, or a head it never finishes, is closed after
    HEADER_TIMEOUT_SECONDS with a 408, not held open."""
    with connect(api) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        assert responses(sock) == [b"HTTP/1.1 408 Request Timeout"]
        waited = time.monotonic() - started
    assert HEAD_SECONDS - 0.5 < waited < HEAD_SECONDS + 20, waited


def test_a_head_trickled_slower_than_the_timeout_is_408_after_the_answers_before_it(api):
    """The time counts from the head's first byte, not the last: a byte every half second
    does not keep the head alive. The request before it on the connection is answered."""
    with connect(api) as sock:
        sock.sendall(b"GET /roles HTTP/1.1\r\nHost: api\r\n\r\n")
        started = time.monotonic()
        try:
            for byte in b"GET /roles HTTP/1.1\r\nX-Slow: " + b"s" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert responses(sock) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 408 Request Timeout"]
    assert HEAD_SECONDS - 0.5 < time.monotonic() - started < HEAD_SECONDS + 20


def test_a_client_that_half_closes_after_its_requests_gets_every_answer(api):
    """A client may close its sending side once its requests are sent (`nc -N` does): the
    server answers them all, then closes."""
    with connect(api) as sock:
        sock.sendall(
            b"GET /roles HTTP/1.1\r\nHost: api\r\n\r\nGET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"
        )
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        assert responses(sock) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK"]
        assert time.monotonic() - started < 5  # closed after the answers, not at a timeout


def test_a_body_cut_short_by_a_half_close_is_dropped_at_once(api):
    with api.client() as client:
        tokens = login(client, *ADMIN)
    with connect(api) as sock:
        sock.sendall(
            b"POST /items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b'Authorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{"name": "cut-'
            % tokens["access_token"].encode()
        )
        sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        assert answer(sock) == b""
        assert time.monotonic() - started < BODY_SECONDS
    with api.client() as client:
        assert (
            client.get("/items", params={"name": "cut-"}, headers=bearer(tokens)).json()["total"]
            == 0
        )


MAX_HEADER_BYTES = 16384  # the served API's MAX_HEADER_BYTES (the default)
MAX_BODY_BYTES = 16384  # and its MAX_BODY_BYTES
HEAD_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large"


def sent_in(sock: socket.socket, data: bytes, ends: list[int]) -> None:
    """data in writes ending at those offsets (and its end), each its own read."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    start = 0
    for end in [*ends, len(data)]:
        sock.sendall(data[start:end])
        start = end
        time.sleep(0.02)


def head_of(size: int, start: bytes) -> bytes:
    """A request head of size bytes, its blank line included: start (its line and fields)
    and an X-Pad field as long as it takes."""
    return start + b"X-Pad: " + b"p" * (size - len(start) - len(b"X-Pad: \r\n\r\n")) + b"\r\n\r\n"


def splits(head: bytes) -> dict[str, list[int]]:
    return {
        "one-write": [],
        "many-writes": list(range(500, len(head), 500)),
        "blank-line-apart": [len(head) - 1],
    }


@pytest.mark.parametrize("split", ["one-write", "many-writes", "blank-line-apart"])
def test_a_head_at_the_limit_is_served_and_one_byte_more_is_431(api, split):
    """Counted to the byte however it arrives: the read that ended a head was not counted,
    and a head of 100 KB in one write was served."""
    for size, status in (
        (MAX_HEADER_BYTES, b"HTTP/1.1 200 OK"),
        (MAX_HEADER_BYTES + 1, HEAD_TOO_LARGE),
    ):
        head = head_of(size, b"GET /healthz HTTP/1.1\r\nHost: api\r\nConnection: close\r\n")
        with connect(api) as sock:
            sent_in(sock, head, splits(head)[split])
            assert responses(sock) == [status], size


@pytest.mark.parametrize("split", ["one-write", "blank-line-apart"])
def test_a_head_with_its_body_in_the_same_write_is_measured_alone(api, split):
    """A head over the limit with its body in one write is refused before its route runs (a
    17 KB Authorization header was answered 401); one at the limit is served, its body not
    counted, even when its blank line ends in the read that brings the body."""
    with api.client() as client:
        tokens = login(client, *ADMIN)
    for size, status in (
        (MAX_HEADER_BYTES, b"HTTP/1.1 201 Created"),
        (MAX_HEADER_BYTES + 1, HEAD_TOO_LARGE),
    ):
        name = f"measured-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"name": name}).encode()
        head = head_of(
            size,
            b"POST /items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n"
            % (tokens["access_token"].encode(), len(body)),
        )
        with connect(api) as sock:
            sent_in(sock, head + body, splits(head)[split])
            assert responses(sock) == [status], size
        with api.client() as client:
            found = client.get("/items", params={"name": name}, headers=bearer(tokens)).json()
        assert found["total"] == (1 if size == MAX_HEADER_BYTES else 0)


def login_request(framing: str) -> bytes:
    """A login, its body framed by a Content-Length or chunked (with a trailer field)."""
    body = json.dumps({"username": ADMIN[0], "password": ADMIN[1]}).encode()
    length = b"Content-Length: %d" % len(body)
    if framing == "chunked":
        length = b"Transfer-Encoding: chunked"
        body = b"%x\r\n%s\r\n0\r\nX-Checksum: 0\r\n\r\n" % (len(body), body)
    return (
        b"POST /auth/token HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
        b"%s\r\n\r\n%s" % (length, body)
    )


@pytest.mark.parametrize("before", ["nothing", "content-length", "chunked"])
def test_a_head_with_requests_around_it_in_one_write_is_measured_alone(api, before):
    """A head after a request with a body and before another, all in one write: at the limit,
    every request is answered; one byte over, it is refused after the answer before it and
    the request after it is not read."""
    first = b"" if before == "nothing" else login_request(before)
    answered = [] if before == "nothing" else [b"HTTP/1.1 200 OK"]
    after = b"GET /roles HTTP/1.1\r\nHost: api\r\nConnection: close\r\n\r\n"
    for size, statuses in (
        (MAX_HEADER_BYTES, [*answered, b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK"]),
        (MAX_HEADER_BYTES + 1, [*answered, HEAD_TOO_LARGE]),
    ):
        with connect(api) as sock:
            sock.sendall(first + head_of(size, b"GET /healthz HTTP/1.1\r\nHost: api\r\n") + after)
            assert responses(sock) == statuses, size
    assert not errors_logged(api)


CHUNKED_REFRESH = (
    b"POST /auth/refresh HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\nX-Pad: "
)


@pytest.mark.parametrize(
    "endless", [b"a" * 65536, b"X-Field: v\r\n" * 5000], ids=["one-field", "many-fields"]
)
def test_an_endless_trailer_is_431_and_not_kept(api, endless):
    """Trailer fields after a chunked body's last chunk: one endless field, or field after
    field. They once went on until the body timeout (a trailer value is kept whole until it
    ends), and the fields were added to the request's headers."""
    before = rss_kib(api)
    with connect(api) as sock:
        started = time.monotonic()
        sent = send_until_refused(sock, CHUNKED_REFRESH, chunk=endless)
        response = answer(sock)
    assert response.startswith(HEAD_TOO_LARGE + b"\r\n"), response[:100]
    assert response.endswith(b'{"detail": "Request header fields too large"}')
    assert sent < SEND_AT_MOST  # the server stopped it
    assert time.monotonic() - started < BODY_SECONDS
    assert rss_kib(api) - before < 32 * 1024
    with api.client() as client:  # and serves others as before
        assert client.get("/healthz").status_code == 200


def test_chunk_extensions_count_against_the_head_limit(api):
    """Chunks that each carry data but also a long extension: only the framing the data
    needs is free, so the extensions reach MAX_HEADER_BYTES long before the body reaches
    MAX_BODY_BYTES."""
    head = CHUNKED_REFRESH[: CHUNKED_REFRESH.index(b"\r\n\r\n") + 4]
    chunk = b"1;ext=" + b"e" * 100 + b"\r\n \r\n"
    with connect(api) as sock:
        sent = send_until_refused(sock, head, chunk=chunk * 100)
        response = answer(sock)
    assert response.startswith(HEAD_TOO_LARGE + b"\r\n"), response[:100]
    assert sent < SEND_AT_MOST


def test_a_trailer_sent_in_many_reads_is_431_at_the_limit(api):
    sent = 0
    with connect(api) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(CHUNKED_REFRESH)
            while sent < 4 * MAX_HEADER_BYTES:
                sock.sendall(b"a" * 1000)
                sent += 1000
                time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = answer(sock)
    assert response.startswith(HEAD_TOO_LARGE + b"\r\n"), response[:100]


def chunked_items(token: bytes | None, body: bytes, trailer: bytes) -> tuple[bytes, bytes]:
    """POST /items with a chunked body (one chunk) and that trailer section: its head, and its
    body with the trailer."""
    authorization = b"Authorization: Bearer %s\r\n" % token if token else b""
    head = (
        b"POST /items HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n%s"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % authorization
    )
    return head, in_chunks_of(max(len(body), 1), body, trailer)


def in_chunks_of(size: int, body: bytes, trailer: bytes = b"") -> bytes:
    """A chunked body: its data in chunks of size bytes, then the last chunk and trailer."""
    parts = [body[start : start + size] for start in range(0, len(body), size)]
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return chunks + b"0\r\n%s\r\n" % trailer


def chunk_framing(size: int) -> int:
    """What a chunk of size data bytes needs around them: its size line, a line break."""
    return len(b"%x\r\n\r\n" % size)


@pytest.mark.parametrize("split", ["one-write", "trailer-apart"])
def test_a_chunked_body_at_the_limit_is_served_and_one_byte_more_is_431(api, split):
    """All of a chunked body but its data and the framing its chunk needs (the chunk's
    extensions, the last chunk, the trailer section) counts against MAX_HEADER_BYTES: at the
    limit the request is served, one byte over it is refused before its route runs."""
    with api.client() as client:
        tokens = login(client, *ADMIN)
    for size, status in (
        (MAX_HEADER_BYTES, b"HTTP/1.1 201 Created"),
        (MAX_HEADER_BYTES + 1, HEAD_TOO_LARGE),
    ):
        name = f"trailed-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"name": name}).encode()
        head, framed = chunked_items(tokens["access_token"].encode(), body, b"")
        extra = len(framed) - len(body) - chunk_framing(len(body))
        pad = size - extra - len(b"X-Pad: \r\n")
        head, framed = chunked_items(
            tokens["access_token"].encode(), body, b"X-Pad: %s\r\n" % (b"p" * pad)
        )
        assert len(framed) - len(body) - chunk_framing(len(body)) == size
        with connect(api) as sock:
            ends = {"one-write": [], "trailer-apart": [len(head) + framed.index(b"\r\n0\r\n") + 5]}
            sent_in(sock, head + framed, ends[split])
            assert responses(sock) == [status], size
        with api.client() as client:
            found = client.get("/items", params={"name": name}, headers=bearer(tokens)).json()
        assert found["total"] == (1 if size == MAX_HEADER_BYTES else 0)


@pytest.mark.parametrize("split", ["one-write", "many-writes"])
def test_a_body_in_many_small_chunks_is_limited_by_its_size_not_its_framing(api, split):
    """A client may send its body in chunks as small as it likes (one per write of a
    stream): the framing they need is not held against it. A body of 4 KB in one-byte
    chunks, five times its size on the wire, is served; one over MAX_BODY_BYTES is 413."""
    with api.client() as client:
        tokens = login(client, *ADMIN)
    head, _ = chunked_items(tokens["access_token"].encode(), b"", b"")
    name = f"small-chunks-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"name": name}).encode()[:-1] + b" " * 4000 + b"}"  # JSON's white space
    framed = in_chunks_of(1, body)
    assert len(framed) - len(body) > MAX_HEADER_BYTES
    with connect(api) as sock:
        ends = {
            "one-write": [],
            "many-writes": list(range(len(head), len(head) + len(framed), 4096)),
        }
        sent_in(sock, head + framed, ends[split])
        assert responses(sock) == [b"HTTP/1.1 201 Created"]
    with connect(api) as sock:
        sock.sendall(head + in_chunks_of(1, b" " * (MAX_BODY_BYTES + 1)))
        assert [status[:13] for status in responses(sock)] == [b"HTTP/1.1 413 "]
    with api.client() as client:
        found = client.get("/items", params={"name": name}, headers=bearer(tokens)).json()
    assert found["total"] == 1


def send_with_trailer(api, token: bytes, authorized: bool, field: bytes) -> tuple[bytes, bytes]:
    """POST /items with the whole request in one write, its trailer section that field and an
    X-Request-ID (the app echoes the request's): the answer, and that id."""
    trailer_id = f"trailer-{uuid.uuid4().hex}".encode()
    body = json.dumps({"name": f"trailer-{uuid.uuid4().hex[:8]}"}).encode()
    trailer = field + b"\r\nX-Request-ID: " + trailer_id + b"\r\n"
    head, framed = chunked_items(token if authorized else None, body, trailer)
    with connect(api) as sock:
        sock.sendall(head + framed)
        return answer(sock), trailer_id


@pytest.mark.parametrize(
    ("field", "authorized", "status"),
    [
        (b"Authorization: Bearer %s", False, b"HTTP/1.1 401 Unauthorized"),
        (b"X-Version: 0.1", True, b"HTTP/1.1 201 Created"),  # 426 if the app read it
        (b"X-Checksum: 0", True, b"HTTP/1.1 201 Created"),
    ],
    ids=["authorization", "x-version", "any"],
)
def test_trailer_fields_do_not_reach_the_app(api, field, authorized, status):
    """Trailer fields were added to the request's headers: a bearer token sent after the body
    authenticated a request whose head had none, an X-Version after it was checked. The
    X-Request-ID beside each shows the app saw none of them (it would echo it)."""
    with api.client() as client:
        token = login(client, *ADMIN)["access_token"].encode()
    response, trailer_id = send_with_trailer(api, token, authorized, field.replace(b"%s", token))
    assert response.startswith(status + b"\r\n"), response[:200]
    assert trailer_id not in response


@pytest.mark.parametrize("field", [b"Content-Length: 104857600", b"Transfer-Encoding: chunked"])
def test_a_trailer_that_would_frame_the_body_is_a_json_400(api, field):
    """The parser itself refuses a trailer field that would frame the body: the request is
    answered 400 at once, as for a bad chunk."""
    with api.client() as client:
        token = login(client, *ADMIN)["access_token"].encode()
    response, trailer_id = send_with_trailer(api, token, True, field)
    assert response.startswith(b"HTTP/1.1 400 Bad Request\r\n"), response[:200]
    assert response.endswith(b'{"detail": "Invalid HTTP request"}')
    assert trailer_id not in response
