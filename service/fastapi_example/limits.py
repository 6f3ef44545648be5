"""Size limits on what a client sends: its request's head (the server) and body (the app)."""

import json

from fastapi import HTTPException
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fastapi_example.settings import get_settings

TOO_LARGE = "Request body too large"
HEAD_TOO_LARGE = json.dumps({"detail": "Request header fields too large"}).encode()


class BodyTooLarge(HTTPException):
    """Raised from a body's read: FastAPI lets it through to the API's error handlers."""

    def __init__(self) -> None:
        # The client may still be sending: the server closes the connection after the answer.
        super().__init__(status_code=413, detail=TOO_LARGE, headers={"Connection": "close"})


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """413 for a request body over the limit, whatever the route, never reading past it.

    A Content-Length over the limit is answered at once, before any route runs. A body
    without one (chunked) is counted as it is read, and its read fails at the limit.
    (FastAPI's own max_body_size answers a declared length in plain text after the route
    ran; the API answers JSON.)
    """

    def __init__(self, app, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = _declared_length(scope["headers"])
        if declared is not None and declared > self.max_body_bytes:
            body = json.dumps({"detail": TOO_LARGE}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return None
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge()
            return message

        return await self.app(scope, limited_receive, send)


class HeadLimitedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap (MAX_HEADER_BYTES) on a request's head (its
    line and headers).

    httptools keeps a header's value until the value ends, however long it is, and uvicorn
    sets no limit of its own: a client could send one endless header. Each chunk read in a
    head that the chunk does not end is counted (a chunk that ends a head holds a body or a
    next request after it). Past the cap the client gets 431, after the answers to the
    requests it sent before on the connection (HTTP/1.1 answers in order), and the
    connection is closed; nothing after the refused head is read. A head may exceed the cap
    by at most one chunk of the socket's reads before it is refused.
    """

    head_bytes = 0
    in_head = True
    heads_ended = 0
    head_refused = False

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A class, not a closure over the limit: uvicorn's reloader pickles what it is given.
        self.max_head_bytes = get_settings().max_header_bytes

    def on_headers_complete(self) -> None:
        self.in_head, self.head_bytes = False, 0
        self.heads_ended += 1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True  # the next request's head, if any, comes next

    def data_received(self, data: bytes) -> None:
        if self.head_refused:
            return
        in_head, heads_ended = self.in_head, self.heads_ended
        super().data_received(data)
        if in_head and heads_ended == self.heads_ended and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes:
                self.head_refused = True
                self.flow.pause_reading()
                self.refuse_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.head_refused:
            self.flow.pause_reading()  # uvicorn resumed it for a next request
            self.refuse_head()

    def refuse_head(self) -> None:
        """The 431, once the requests before the refused head are answered."""
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.pipeline or answering or self.transport.is_closing():
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(HEAD_TOO_LARGE)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + HEAD_TOO_LARGE
        )
        self.transport.close()
