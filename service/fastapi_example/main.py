"""The application factory."""

from contextlib import asynccontextmanager

from fastapi import FastAPI

from fastapi_example import __version__
from fastapi_example.catalog import CatalogCache
from fastapi_example.db import Database
from fastapi_example.errors import add_error_handlers, errors
from fastapi_example.limits import BodyLimit
from fastapi_example.logs import configure_logging
from fastapi_example.metrics import Metrics
from fastapi_example.observe import ObserveRequests
from fastapi_example.routes import auth, catalog, docs, health, items, users
from fastapi_example.settings import PACKAGE_DIR, Settings
from fastapi_example.static_files import JsonErrorStaticFiles


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    db = Database(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        metrics.start_server(settings.host, settings.metrics_port)
        try:
            await db.start()
            yield
        finally:
            metrics.stop_server()
            await db.dispose()

    app = FastAPI(
        title="fastapi-example",
        version=__version__,
        description="Users, items, roles and versions with opaque token auth.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        # Metrics are Prometheus (metrics.py); FastAPI's native OpenTelemetry would otherwise
        # look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = db
    app.state.metrics = metrics
    app.state.catalog = CatalogCache(db, settings.versions_cache_seconds)
    app.state.draining = False

    add_error_handlers(app)
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(ObserveRequests, metrics=metrics)  # outermost: it sees the 413s too

    # Tried in this order (each skipped at once for a path outside its prefix): the
    # cheapest and busiest routes first.
    app.include_router(catalog.roles, responses=errors(404, 426, 503))
    app.include_router(items.router, responses=errors(401, 403, 404, 409, 413, 426, 503))
    app.include_router(auth.router, responses=errors(401, 403, 413, 426, 429, 503))
    app.include_router(users.router, responses=errors(401, 403, 404, 409, 413, 426, 503))
    app.include_router(catalog.versions, responses=errors(503))
    app.include_router(health.router)
    app.include_router(docs.router)
    app.mount("/", JsonErrorStaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    return app
