"""LOG_FORMAT=text (the dev overlay's): the access line carries the request's fields too."""

import logging

from fastapi_example.logs import TextFormatter, access_log, access_logger, request_id_var


def test_the_text_access_line_has_method_route_status_and_request_id():
    lines: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(TextFormatter("%(levelname)s %(name)s %(message)s"))
    handler.emit = lambda record: lines.append(handler.format(record))
    access_logger.addHandler(handler)
    level = access_logger.level
    access_logger.setLevel(logging.INFO)
    token = request_id_var.set("abc123")
    try:
        scope = {"method": "POST", "fastapi_example.user_id": 7}
        access_log(scope, "/items/{item_id}", 201, 0.0123)
    finally:
        request_id_var.reset(token)
        access_logger.setLevel(level)
        access_logger.removeHandler(handler)
    assert lines == [
        "INFO fastapi_example.access request request_id=abc123 method=POST "
        "route=/items/{item_id} status=201 duration_ms=12.3 user_id=7"
    ]


def test_a_plain_message_stays_as_it_was():
    formatter = TextFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("x", logging.INFO, "", 0, "started", None, None)
    assert formatter.format(record) == "INFO started"
