"""The static files at / (the logo, Redoc's bundle): Starlette's, with its answers to a
bad Range header in the API's JSON error shape.

Starlette raises its other errors (404, 405), which reach the API's error handlers; a
Range it cannot serve it answers itself, in plain text, from inside the file's response.
"""

from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

RANGE_ERRORS = {400: "Malformed Range header", 416: "Range not satisfiable"}


class JsonErrorStaticFiles(StaticFiles):
    async def __call__(self, scope, receive, send) -> None:
        replaced = False

        async def send_json_errors(message) -> None:
            nonlocal replaced
            if replaced:  # the plain text's body: already answered
                return
            if message["type"] == "http.response.start" and message["status"] in RANGE_ERRORS:
                replaced = True
                status = message["status"]
                kept = {  # a 416's Content-Range: the file's size
                    name.decode("latin-1"): value.decode("latin-1")
                    for name, value in message["headers"]
                    if name not in (b"content-type", b"content-length")
                }
                answer = JSONResponse({"detail": RANGE_ERRORS[status]}, status, headers=kept)
                return await answer(scope, receive, send)
            await send(message)

        await super().__call__(scope, receive, send_json_errors)
