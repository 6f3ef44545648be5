"""The JSON formatter's fields and the access log's line, without a server."""

import io
import json
import logging
import sys
import time
from datetime import UTC, datetime

import pytest

from fastapi_example.logs import (
    USER_ID_KEY,
    JsonFormatter,
    access_log,
    configure_logging,
    request_id_var,
)


def record_at(created: float) -> logging.LogRecord:
    record = logging.LogRecord("fastapi_example.access", logging.INFO, "", 0, "request", None, None)
    record.created, record.msecs = created, int((created - int(created)) * 1000) + 0.0
    record.status = 200
    return record


def test_time_is_utc_iso_8601_to_the_millisecond_across_seconds():
    formatter = JsonFormatter()
    # Within one second (the date part is reused), across a second, a day and a year.
    for created in (1_800_000_000.0, 1_800_000_000.5, 1_800_000_000.999, 1_800_000_001.25,
                    1_798_761_599.5, 1_798_761_600.0, 1_798_761_600.007):  # fmt: skip
        entry = json.loads(formatter.format(record_at(created)))
        expected = datetime.fromtimestamp(int(created), UTC).replace(
            microsecond=int((created - int(created)) * 1000) * 1000
        )
        assert entry["time"] == expected.isoformat(timespec="milliseconds"), created
        assert datetime.fromisoformat(entry["time"]) == expected
        assert entry["status"] == 200 and entry["message"] == "request"


@pytest.fixture
def json_log(monkeypatch):
    """configure_logging's JSON handler writing to a StringIO; the root's handlers restored.

    pytest adds its own handlers to the root for each test's call: a test calls sole() to
    leave the root with configure_logging's handler alone, as in a served API.
    """
    out = io.StringIO()
    saved = logging.root.handlers[:]
    monkeypatch.setattr(sys, "stdout", out)
    configure_logging("info", "json")
    handler = logging.root.handlers[0]

    def sole() -> logging.Handler:
        logging.root.handlers[:] = [handler]
        return handler

    yield out, sole
    logging.root.handlers[:] = saved


def test_an_access_line_has_the_request_and_its_outcome(json_log, monkeypatch):
    out, sole = json_log
    sole()
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)
    scope = {"method": "PATCH", USER_ID_KEY: 7}
    token = request_id_var.set("req-1")
    try:
        access_log(scope, "/items/{item_id}", 200, 0.01234)
    finally:
        request_id_var.reset(token)
    (line,) = out.getvalue().splitlines()
    assert json.loads(line) == {
        "time": "2027-01-15T08:00:00.250+00:00",
        "level": "INFO",
        "logger": "fastapi_example.access",
        "message": "request",
        "request_id": "req-1",
        "method": "PATCH",
        "route": "/items/{item_id}",
        "status": 200,
        "duration_ms": 12.34,
        "user_id": 7,
    }


def test_access_lines_follow_the_logging_setup(json_log):
    """Another handler on the root gets the line too (through logging); below INFO, none."""
    out, sole = json_log
    sole()
    records = []
    other = logging.Handler()
    other.emit = records.append
    logging.root.addHandler(other)
    access_log({"method": "GET"}, None, 404, 0.001)
    assert [r.route for r in records] == ["unmatched"]
    assert json.loads(out.getvalue())["status"] == 404
    logging.root.setLevel(logging.WARNING)
    access_log({"method": "GET"}, None, 404, 0.001)
    assert len(records) == 1 and len(out.getvalue().splitlines()) == 1


def test_a_failed_write_falls_back_to_logging(json_log, monkeypatch):
    """A stream that fails (a closed pipe) never fails the request: logging handles it."""
    out, sole = json_log
    handled = []
    monkeypatch.setattr(sole(), "handleError", handled.append)
    out.close()
    access_log({"method": "GET"}, "/roles", 200, 0.001)
    assert [record.route for record in handled] == ["/roles"]
