"""JSON logs on stdout, one object per line, and the access log's line (observe.py)."""

import contextvars
import logging
import os
import sys
import time

from pydantic_core import to_json

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
USER_ID_KEY = "fastapi_example.user_id"  # set in the ASGI scope by the auth dependency

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}
_MAX_REQUEST_ID = 64
access_logger = logging.getLogger("fastapi_example.access")


class JsonFormatter(logging.Formatter):
    _second: tuple[int, str] = (0, "")  # a whole second and its ISO 8601 text in UTC

    def _time(self, created: float, msecs: float) -> str:
        """datetime's isoformat in UTC to the millisecond, the date part made once a second."""
        whole, text = self._second
        if whole != int(created):
            whole = int(created)
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        return f"{text}.{int(msecs):03d}+00:00"

    def entry(self, created: float, msecs: float, level: str, logger: str, message: str) -> dict:
        """A line's first fields, in their order, and the request id if there is one."""
        entry = {"time": self._time(created, msecs), "level": level, "logger": logger}
        entry["message"] = message
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        return entry

    def format(self, record: logging.LogRecord) -> str:
        entry = self.entry(
            record.created, record.msecs, record.levelname, record.name, record.getMessage()
        )
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # pydantic's encoder (Rust): a fifth of json.dumps's time, the same JSON up to spacing.
        return to_json(entry, fallback=str).decode()


class _AccessLines:
    """The access log's line as the JSON handler writes it, without a LogRecord.

    Through `logging`, one line cost about 7.5 µs, four times the line itself (benchmarks/
    README.md, eleventh round). Used only while the handler configure_logging installed is
    the root's one handler and the access logger is enabled for INFO: then its line is the
    formatter's, to the same stream under the same lock. Otherwise, or if writing fails,
    the line goes through `logging`.
    """

    def __init__(self, handler: logging.StreamHandler, formatter: JsonFormatter) -> None:
        self.handler, self.formatter = handler, formatter

    def applies(self) -> bool:
        handlers = logging.root.handlers
        return len(handlers) == 1 and handlers[0] is self.handler and not access_logger.disabled

    def write(self, fields: dict) -> None:
        created = time.time()
        entry = self.formatter.entry(
            created, (created - int(created)) * 1000, "INFO", access_logger.name, "request"
        )
        entry.update(fields)
        line = to_json(entry, fallback=str).decode() + self.handler.terminator
        with self.handler.lock:
            self.handler.stream.write(line)
            self.handler.stream.flush()


_access_lines: _AccessLines | None = None  # set by configure_logging for the JSON format


def configure_logging(level: str, fmt: str) -> None:
    global _access_lines
    handler = logging.StreamHandler(sys.stdout)
    _access_lines = None
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        _access_lines = _AccessLines(handler, handler.formatter)
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # Neither format shows the caller's file, the thread or the process: not collecting them
    # per record (a stack walk among them) saves a few per cent of a hot request's CPU.
    logging._srcfile = None
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
    """The caller's X-Request-ID if short and printable ASCII, else a new random one."""
    for name, raw in headers:
        if name == b"x-request-id":
            value = raw.decode("latin-1")[:_MAX_REQUEST_ID]
            if value and value.isprintable() and value.isascii():
                return value
            break
    return os.urandom(16).hex()  # 32 hex digits, as uuid4().hex but a fifth of its time


def access_log(scope, route: str | None, status: int, seconds: float) -> None:
    """The request's line in the access log, at INFO."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    fields = {
        "method": scope["method"],
        "route": route or "unmatched",
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "user_id": scope.get(USER_ID_KEY),
    }
    lines = _access_lines
    if lines is None or not lines.applies():
        access_logger.info("request", extra=fields)
        return
    try:
        lines.write(fields)
    except Exception:  # a failed write: logging's own handling (handleError) decides
        access_logger.info("request", extra=fields)
