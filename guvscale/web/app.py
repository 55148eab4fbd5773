"""The application factory: everything is built here, at start-up, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

import guvscale
from guvscale.db.crypto import Vault
from guvscale.db.engine import make_engine, make_sessionmaker, open_database
from guvscale.db.migrate import upgrade
from guvscale.db.outage import OutageMonitor
from guvscale.settings import Settings
from guvscale.web import background, errors, schemas
from guvscale.web.limits import BodySizeLimitMiddleware
from guvscale.web.logs import RequestLogMiddleware
from guvscale.web.routes import (
    config,
    dashboard,
    health,
    metrics,
    partner,
    records,
    rules,
    setup,
    sso,
    watch,
)
from guvscale.web.transport import TransportSecurityMiddleware

ROOT = Path(__file__).resolve().parents[2]
SESSION_COOKIE = "gvs_session"
SESSION_MAX_AGE = 8 * 3600


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    http: httpx.Client | None = None,
    async_http: httpx.AsyncClient | None = None,
    run_background: bool = True,
    migrate: bool = False,
) -> FastAPI:
    """The app; `migrate` upgrades the database at start-up (`guvscale dev`)."""
    settings = settings or Settings()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything built here is undone in reverse order at shutdown: services
        # stop, clients close, and a database this app started (an embedded
        # PostgreSQL) stops last.
        async with AsyncExitStack() as owned:
            if engine is None:
                url = owned.enter_context(open_database(settings))
                app.state.engine = make_engine(settings, url)
                owned.callback(app.state.engine.dispose)
            else:
                app.state.engine = engine
            if migrate:
                upgrade(app.state.engine)
            app.state.sessions = make_sessionmaker(app.state.engine)
            owned.callback(app.state.outage.watch(app.state.engine))
            if http is None:
                app.state.http = owned.enter_context(httpx.Client(timeout=settings.http_timeout))
            else:
                app.state.http = http
            if async_http is None:
                # For async callers (the RabbitMQ management API); redirects are never
                # followed, so a broker cannot send us elsewhere.
                app.state.async_http = await owned.enter_async_context(
                    httpx.AsyncClient(timeout=settings.http_timeout, follow_redirects=False)
                )
            else:
                app.state.async_http = async_http
            for service in background.services_for(app) if run_background else []:
                service.start()
                owned.callback(service.stop)
            yield

    # Starlette's own trailing-slash redirect builds its Location from the Host
    # header; errors.py redirects from PUBLIC_URL instead.
    app = FastAPI(
        title="GuvScale",
        version=guvscale.__version__,
        lifespan=lifespan,
        redirect_slashes=False,
        **schemas.docs_urls(settings.is_production),
    )
    app.state.settings = settings
    app.state.vault = Vault(settings.encryption_key_list)
    app.state.templates = Jinja2Templates(directory=str(ROOT / "templates"))
    app.state.outage = OutageMonitor()

    # Outermost first (each add_middleware wraps the ones before it): log every
    # request, (production) https only, answer unhandled errors, refuse oversized
    # bodies, then sessions.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.is_production,
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(errors.CrashGuard)
    if settings.is_production:
        app.add_middleware(TransportSecurityMiddleware, public_url=settings.public_url)
    app.add_middleware(RequestLogMiddleware)

    errors.install(app)
    schemas.install(app)
    app.include_router(health.router)
    app.include_router(partner.router)
    app.include_router(config.router)
    app.include_router(sso.router)
    app.include_router(dashboard.router)
    app.include_router(rules.router)
    app.include_router(rules.json_router)
    app.include_router(watch.router)
    app.include_router(watch.json_router)
    app.include_router(setup.router)
    app.include_router(records.router)
    app.include_router(metrics.router)
    app.mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static")
    return app
