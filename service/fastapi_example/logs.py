"""JSON logs on stdout, one object per line, and the access log's line (observe.py)."""

import contextvars
import logging
import os
import re
import sys
import time
import traceback

from pydantic_core import to_json

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
USER_ID_KEY = "fastapi_example.user_id"  # set in the ASGI scope by the auth dependency

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_MAX_REQUEST_ID = 64
REQUEST_ID = re.compile(r"[A-Za-z0-9_.:/+=-]+")
access_logger = logging.getLogger("fastapi_example.access")


def traceback_without_messages(exc_info) -> str:
    """An exception's frames and types, and those of its causes, without their messages:
    a message can repeat what a request sent (a validation error lists its inputs, a
    password among them; an encoding error quotes the text it failed on)."""
    error, seen, chain = exc_info[1], set(), []
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        chain.append(error)
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    lines = []
    for error in reversed(chain):
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_list(traceback.extract_tb(error.__traceback__)))
        kind = type(error)
        lines.append(f"{kind.__module__}.{kind.__qualname__} (message not logged)\n")
    return "".join(lines).rstrip("\n")


class TextFormatter(logging.Formatter):
    """LOG_FORMAT=text: the format's line, then the record's own fields as key=value (the
    access line's method, route, status; the JSON format has the same fields as keys)."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        request_id = request_id_var.get()
        if request_id:
            fields = {"request_id": request_id, **fields}
        if not fields:
            return line
        # On the message's line: a traceback, when there is one, follows it.
        first, newline, rest = line.partition("\n")
        return first + "".join(f" {k}={v}" for k, v in fields.items()) + newline + rest

    def formatException(self, ei) -> str:
        return traceback_without_messages(ei)


class JsonFormatter(TextFormatter):
    _second: tuple[int, str] = (0, "")  # a whole second and its ISO 8601 text in UTC

    def _time(self, created: float, msecs: float) -> str:
        """datetime's isoformat in UTC to the millisecond, the date part made once a second."""
        whole, text = self._second
        if whole != int(created):
            whole = int(created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        return f"{text}.{int(msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self._time(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # pydantic's encoder: the same JSON as json.dumps up to spacing, in less time.
        return to_json(entry, fallback=str).decode()


def configure_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # Neither format shows the thread or the process: records need not look them up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # Our access log replaces uvicorn's (it has the route, the user and the request id).
    logging.getLogger("uvicorn.access").disabled = True


def clean_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID, cut to its first 64 characters, if those are of REQUEST_ID's
    alphabet; else a new random one.

    Letters, digits and - _ . : / + = carry UUIDs, hex, base64 and trace ids; a space or a
    quote could make a LOG_FORMAT=text line show fields the API did not log."""
    for name, raw in headers:
        if name == b"x-request-id":
            value = raw.decode("latin-1")[:_MAX_REQUEST_ID]
            if REQUEST_ID.fullmatch(value):
                return value
            break
    return os.urandom(16).hex()  # 32 hex digits, as uuid4().hex but cheaper


def access_log(scope, route: str | None, status: int, seconds: float) -> None:
    """The request's line in the access log, at INFO.

    The record is made and handed to the logger's handlers directly, as a record received
    from elsewhere would be: Logger.info would also look up the caller's file and line in
    the stack, which no line of this log shows (docs/decisions/0006-access-log-records.md).
    """
    if not access_logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "method": scope["method"],
        "route": route or "unmatched",
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": scope.get(USER_ID_KEY),
    }
    record = access_logger.makeRecord(
        access_logger.name, logging.INFO, "", 0, "request", None, None, extra=fields
    )
    access_logger.handle(record)
