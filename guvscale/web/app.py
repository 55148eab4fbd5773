"""The application factory: everything is built here, at start-up, never at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

import guvscale
from guvscale.db.crypto import Vault
from guvscale.db.engine import make_engine, make_sessionmaker
from guvscale.settings import Settings
from guvscale.web import background, csrf, errors
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
) -> FastAPI:
    settings = settings or Settings()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = engine or make_engine(settings)
        app.state.sessions = make_sessionmaker(app.state.engine)
        app.state.http = http or httpx.Client(timeout=settings.http_timeout)
        # For async callers (the RabbitMQ management API); redirects are never followed.
        app.state.async_http = async_http or httpx.AsyncClient(
            timeout=settings.http_timeout, follow_redirects=False
        )
        services = background.services_for(app) if run_background else []
        for service in services:
            service.start()
        try:
            yield
        finally:
            for service in reversed(services):
                service.stop()
            if http is None:
                app.state.http.close()
            if async_http is None:
                await app.state.async_http.aclose()
            if engine is None:
                app.state.engine.dispose()

    app = FastAPI(title="GuvScale", version=guvscale.__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.vault = Vault(settings.encryption_key_list)
    app.state.templates = Jinja2Templates(directory=str(ROOT / "templates"))
    csrf.install(app.state.templates)

    # Outermost first: log every request, refuse oversized bodies, then sessions.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.is_production,
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestLogMiddleware)

    errors.install(app)
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
