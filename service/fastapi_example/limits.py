"""Limits on what a client sends: its request's head (the server: size and time) and body
(the app: size; the server: time)."""

import asyncio
import json
from http import HTTPStatus

from fastapi.responses import JSONResponse
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fastapi_example.settings import get_settings

TOO_LARGE = "Request body too large"
INCOMPLETE = "Request body incomplete"
HEAD_TOO_LARGE = "Request header fields too large"
HEAD_TOO_SLOW = "Request header not received in time"
BODY_TOO_SLOW = "Request body not received in time"
UNPARSABLE = "Invalid HTTP request"
# Set in a request's ASGI scope when the server answered it itself while its route ran: the
# access log and the metrics report what the client was sent, not what the route made.
SERVER_STATUS_KEY = "fastapi_example.server_status"


def body_framing(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """The body's declared Content-Length (None without one), and whether it comes chunked
    (a Transfer-Encoding: the server accepts none that does not end in chunked)."""
    declared, chunked = None, False
    for name, value in headers:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else None
        elif name == b"transfer-encoding":
            chunked = True
    return declared, chunked


class BodyLimit:
    """413 for a request body over the limit, whatever the route, never reading past it.

    A Content-Length over the limit is answered at once, before any route runs. A chunked
    body is read whole first, at most the limit, and replayed to the route: a route that
    takes no body never reads it, and would otherwise run for a body over the limit.
    (FastAPI's own max_body_size answers a declared length in plain text after the route
    ran; the API answers JSON.)
    """

    def __init__(self, app, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared, chunked = body_framing(scope["headers"])
        if declared is not None and declared > self.max_body_bytes:
            refused = JSONResponse({"detail": TOO_LARGE}, 413, headers={"Connection": "close"})
            return await refused(scope, receive, send)
        if not chunked:  # the server delivers no more than the declared length
            return await self.app(scope, receive, send)
        chunks, received = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # gone (or timed out) before its end
                incomplete = JSONResponse({"detail": INCOMPLETE}, 400)
                return await incomplete(scope, receive, send)
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_body_bytes:
                refused = JSONResponse({"detail": TOO_LARGE}, 413, headers={"Connection": "close"})
                return await refused(scope, receive, send)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay():
            nonlocal whole
            if whole is None:  # after the body, the route may wait for the disconnect
                return await receive()
            message, whole = whole, None
            return message

        return await self.app(scope, replay, send)


def refusal(status: int, detail: str) -> bytes:
    """A whole answer from the server itself, in the API's error shape, closing the connection."""
    body = json.dumps({"detail": detail}).encode()
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s"
        % (status, HTTPStatus(status).phrase.encode(), len(body), body)
    )


# The end of a head, and of a chunked body (after its trailer section, if any).
BLANK_LINE = b"\r\n\r\n"


def chunk_framing(size: int) -> int:
    """The bytes a chunk of `size` data bytes needs around its data: its size in hex and
    a line break, then a line break after the data."""
    return len(b"%x" % size) + 4


class LimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with caps on a request's head (its line and headers):
    MAX_HEADER_BYTES and HEADER_TIMEOUT_SECONDS; and on the time its body takes to arrive:
    BODY_TIMEOUT_SECONDS.

    httptools keeps a header's value until the value ends, however long it is, and uvicorn
    sets no limit of its own: a client could send one endless header. A head is counted to
    the byte, with the blank line that ends it, before the parser reads it: each read is fed
    to the parser in pieces that end after each blank line (where a head may end) and where
    a Content-Length body ends, so a head is the pieces fed while it is read, whatever came
    with it in the read (a body, the next request). Nor does uvicorn time a head: a client
    could hold a connection open with a head it never finishes (or a connection on which it
    never sends).

    Past either cap the client gets 431 or 408, after the answers to the requests it sent
    before on the connection (HTTP/1.1 answers in order), and the connection is closed;
    nothing after the refused head is read. A head the parser cannot read (a bad request
    line, a header name with a space) is refused the same way with 400, in JSON like every
    other answer of the API rather than uvicorn's plain text; so is a body it cannot read
    (a bad chunk), at once.

    A chunked body may end with trailer fields: httptools keeps them as it keeps a head's,
    and uvicorn adds them to the request's headers, which the app trusts as the head's. They
    are dropped (RFC 9110 lets a recipient discard trailer fields), and what a chunked body
    holds besides its data and the framing its chunks need (chunk extensions, zeros before
    a size, the last chunk, the trailer section) is capped at MAX_HEADER_BYTES, counted as
    it arrives: past it the client gets 431 at once and the connection is closed. A body
    sent in many small chunks is capped by its data, as any other: MAX_BODY_BYTES.

    A body not all received BODY_TIMEOUT_SECONDS after its head is answered 408 and the
    connection closed (the route's read sees the client gone): uvicorn waits for a body as
    long as the client keeps the connection, so a body sent a byte at a time would hold a
    request open. The body is read before the route's dependencies: it holds no database
    connection meanwhile.

    A client that closes its sending side after its requests still gets their answers.
    """

    head_bytes = 0  # of the head being read
    framing_bytes = 0  # of the chunked body being read: all but its data and chunk_framing
    body_left = 0  # what is still to come of a Content-Length body
    tail = b""  # the last bytes read: a blank line may begin in one read and end in the next
    in_head = True
    heads_ended = 0
    refusal: bytes | None = None  # the answer to a refused head, once the others are sent
    head_timer: asyncio.TimerHandle | None = None
    body_timer: asyncio.TimerHandle | None = None
    client_done = False  # the client closed its side: answer what it sent, then close

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A class, not a closure over the limits: uvicorn's reloader pickles what it is given.
        settings = get_settings()
        self.max_head_bytes = settings.max_header_bytes
        self.head_seconds = settings.header_timeout_seconds
        self.body_seconds = settings.body_timeout_seconds

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self.time_head()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self.head_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def eof_received(self) -> bool | None:
        """The client closed its sending side (a half-close, as `nc -N` and some proxies do
        after a request): its complete requests are still answered, then the connection is
        closed. uvicorn closed it at once, and such a client got no answer. A body cut short
        can never end: the connection closes now (the route sees the client gone)."""
        answering = self.pipeline or (self.cycle is not None and not self.cycle.response_complete)
        if self.in_head and answering:
            self.client_done = True
            return True  # the transport stays open for the answers
        return None

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.in_head:  # else a trailer field: dropped
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.in_head, self.head_bytes, self.framing_bytes = False, 0, 0
        self.body_left = body_framing(self.headers)[0] or 0
        self.heads_ended += 1
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self.body_left:  # a Content-Length body: nothing but data
            self.body_left = max(self.body_left - len(body), 0)
            self.framing_bytes -= len(body)
        else:
            # A chunk's data, or the part of it this read brought: allowed the framing it
            # would need as a chunk of its own, which a client could have sent it as. What
            # is free is never more than a few bytes per byte of data, itself capped.
            self.framing_bytes -= len(body) + chunk_framing(len(body))
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self.framing_bytes > self.max_head_bytes:  # a chunked body, its trailer over the cap
            self.end_body(431, HEAD_TOO_LARGE)
            return
        super().on_message_complete()
        self.in_head = True  # the next request's head, if any, comes next
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None

    def data_received(self, data: bytes) -> None:
        seen, start = self.tail + data, len(self.tail)
        self.tail = seen[-3:]
        while start < len(seen) and self.reading():
            end = self.piece_end(seen, start)
            self.feed(seen[start:end])
            start = end

    def reading(self) -> bool:
        """Whether what the client sends is still for this protocol to parse."""
        return (
            self.refusal is None
            and not self.transport.is_closing()
            and self.transport.get_protocol() is self  # not handed to a WebSocket protocol
        )

    def piece_end(self, seen: bytes, start: int) -> int:
        """Where the piece of the read that begins at start ends: after the next blank line
        (a head, or a chunked body, may end there), or where a Content-Length body ends."""
        if not self.in_head and self.body_left:
            return min(start + self.body_left, len(seen))
        blank_line = seen.find(BLANK_LINE, max(start - 3, 0))  # one that ends after start
        return len(seen) if blank_line < 0 else blank_line + len(BLANK_LINE)

    def feed(self, piece: bytes) -> None:
        in_head, heads_ended = self.in_head, self.heads_ended
        if in_head:  # all of it is head: a head ends only at a piece's end
            self.head_bytes += len(piece)
            if self.head_bytes > self.max_head_bytes:
                self.refuse(431, HEAD_TOO_LARGE)  # the parser reads none of this piece
                return
        else:  # its data is taken off as the parser finds it
            self.framing_bytes += len(piece)
        super().data_received(piece)
        if not self.reading():
            return
        if not self.in_head:  # a head ended and its body has not all come
            if self.framing_bytes > self.max_head_bytes:
                self.end_body(431, HEAD_TOO_LARGE)
            elif self.body_timer is None:
                self.body_timer = self.loop.call_later(self.body_seconds, self.body_too_slow)
        elif in_head and heads_ended == self.heads_ended:  # a head not all come
            self.time_head()

    def send_400_response(self, msg: str) -> None:
        """What the parser could not read; uvicorn's message is not sent (the detail says it)."""
        if self.in_head:  # a request's head: refused in its turn, like a head over the cap
            self.refuse(400, UNPARSABLE)
        else:  # the body of the request being served (a bad chunk): it can never end
            self.end_body(400, UNPARSABLE)

    def body_too_slow(self) -> None:
        self.body_timer = None
        self.end_body(408, BODY_TOO_SLOW)

    def end_body(self, status: int, detail: str) -> None:
        """Refuse the body being read: the answer cannot wait for the route, which waits for
        the body. Answered now, unless the route began its own answer, and the connection
        closed: the route's read sees the client gone, and whatever it answers then is
        logged as the status the client got."""
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(refusal(status, detail))
            if self.cycle is not None:
                self.cycle.scope[SERVER_STATUS_KEY] = status
        self.transport.close()

    def time_head(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(
                self.head_seconds, self.refuse, 408, HEAD_TOO_SLOW
            )

    def refuse(self, status: int, detail: str) -> None:
        if self.refusal is not None or self.transport.is_closing():
            return  # refused already (a timer can fire after a 431), or closed
        self.refusal = refusal(status, detail)
        self.flow.pause_reading()
        self.send_refusal()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.refusal is not None:
            self.flow.pause_reading()  # uvicorn resumed it for a next request
            self.send_refusal()
        elif self.client_done and self.cycle.response_complete and not self.pipeline:
            self.transport.close()  # the last answer to a client that sends no more

    def send_refusal(self) -> None:
        """The refused head's answer, once the requests before it are answered."""
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.pipeline or answering or self.transport.is_closing():
            return
        self.transport.write(self.refusal)
        self.transport.close()
