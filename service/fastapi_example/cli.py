"""`fastapi-example serve | migrate | cleanup-tokens`."""

import argparse
import gc
import logging
import sys

from pydantic import ValidationError

from fastapi_example.settings import Settings

log = logging.getLogger("fastapi_example")


def serve(settings: Settings, reload: bool) -> None:
    import uvicorn

    from fastapi_example.limits import LimitedHttpTools

    options = dict(
        http=LimitedHttpTools,
        host=settings.host,
        port=settings.port,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        access_log=False,  # our own access log has the route, user and request id
        log_config=None,
        server_header=False,
    )
    if reload:  # development only: a code change restarts the worker
        uvicorn.run("fastapi_example.main:create_app", factory=True, reload=True, **options)
        return
    from fastapi_example.main import create_app

    app = create_app(settings)

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig, frame):
            app.state.draining = True  # /readyz answers 503 from now on
            super().handle_exit(sig, frame)

    # What is built by now (modules, the app, its routes and schemas) lives as long as the
    # process: frozen, it is out of the collector's way. A full collection under load then
    # scans only what requests made, and its pauses no longer make the API's p99.
    gc.collect()
    gc.freeze()
    DrainingServer(uvicorn.Config(app, **options)).run()


def migrate(settings: Settings, restore_admin: bool = False) -> None:
    from fastapi_example.db import make_engine
    from fastapi_example.migrate import STATEMENT_TIMEOUT_SECONDS, wait_for_database
    from fastapi_example.migrate import migrate as run_migrate

    if not settings.admin_password:  # only production leaves it empty
        print("fastapi-example: migrate needs ADMIN_PASSWORD in production", file=sys.stderr)
        sys.exit(2)
    # Waited for with the usual read timeout, not the schema changes' hour: a server that
    # takes connections and never answers (a frozen process does) fails the wait in time.
    probe = make_engine(settings)
    try:
        wait_for_database(probe, settings.db_wait_seconds, create=True)
    finally:
        probe.dispose()
    engine = make_engine(settings, read_timeout=STATEMENT_TIMEOUT_SECONDS)
    try:
        run_migrate(engine, settings)
        if restore_admin:
            from fastapi_example.break_glass import restore_admin as restore

            restore(engine, settings)
    finally:
        engine.dispose()


def cleanup_tokens(settings: Settings) -> None:
    from fastapi_example.db import make_engine
    from fastapi_example.jobs.token_cleanup import delete_expired_sessions
    from fastapi_example.migrate import wait_for_database

    engine = make_engine(settings)
    try:
        wait_for_database(engine, settings.db_wait_seconds)
        summary = delete_expired_sessions(
            engine,
            settings.token_cleanup_batch_size,
            settings.token_cleanup_pause_ratio,
            settings.login_window_seconds,
        )
    finally:
        engine.dispose()
    log.info("token cleanup finished", extra=summary)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="fastapi-example")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the API (and metrics)")
    serve_parser.add_argument("--reload", action="store_true", help="restart on code changes")
    migrate_parser = commands.add_parser(
        "migrate", help="upgrade the schema and seed, under a lock"
    )
    migrate_parser.add_argument(
        "--restore-admin",
        action="store_true",
        help="make ADMIN_USERNAME an active admin again with ADMIN_PASSWORD (break-glass)",
    )
    commands.add_parser(
        "cleanup-tokens",
        help="delete expired sessions, rotated token digests and login-throttle counters",
    )
    args = parser.parse_args(argv)

    from fastapi_example.logs import configure_logging

    try:
        settings = Settings()
    except ValidationError as error:
        # Only the messages: pydantic's own text repeats the input values, secrets included.
        reasons = "; ".join(
            f"{'.'.join(map(str, e['loc']))} {e['msg']}".strip() for e in error.errors()
        )
        print(f"fastapi-example: invalid settings: {reasons}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "serve":
            serve(settings, args.reload)
        elif args.command == "migrate":
            migrate(settings, args.restore_admin)
        else:
            cleanup_tokens(settings)
    except Exception as error:
        # The driver's own message, not SQLAlchemy's (which repeats statements and parameters).
        cause = getattr(error, "orig", None) or error
        log.error(f"{args.command} failed", extra={"error": f"{type(cause).__name__}: {cause}"})
        sys.exit(1)
