"""The JSON formatter's fields, without a server."""

import json
import logging
from datetime import UTC, datetime

from fastapi_example.logs import JsonFormatter


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
