"""The one place that builds clients and services, for the web process, the worker and tests.

Everything here is built at start-up from Settings (never at import) and
handed in; nothing else constructs an adapter.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import Engine

import guvscale
from guvscale.db.crypto import Vault
from guvscale.db.engine import make_engine, make_sessionmaker
from guvscale.heroku.identity import HerokuIdentity
from guvscale.heroku.platform import HerokuPlatform
from guvscale.heroku.platform_async import AsyncHerokuPlatform
from guvscale.httpclient import async_client
from guvscale.rabbitmq import passive_declare
from guvscale.services.config_vars import ConfigIssuer
from guvscale.settings import Settings
from guvscale.worker.amqp_threads import AmqpThreads
from guvscale.worker.run import Worker, WorkerOptions
from guvscale.worker.tenant import Context

USER_AGENT = f"guvscale/{guvscale.__version__}"


def heroku_platform(
    settings: Settings, http: httpx.Client, *, timeout: float | None = None
) -> HerokuPlatform:
    """`timeout`: the worker's shorter one (`Settings.worker_call_timeout`)."""
    return HerokuPlatform(
        http, settings.heroku_api_url, USER_AGENT, timeout=timeout or settings.http_timeout
    )


def heroku_identity(settings: Settings, http: httpx.Client) -> HerokuIdentity:
    return HerokuIdentity(
        http,
        settings.heroku_id_url,
        settings.heroku_oauth_secret,
        timeout=settings.http_timeout,
        user_agent=USER_AGENT,
    )


def config_issuer(settings: Settings) -> ConfigIssuer:
    return ConfigIssuer(settings.secret_key, settings.public_url)


def vault(settings: Settings) -> Vault:
    return Vault(settings.encryption_key_list)


def worker_options(settings: Settings, *, dry_run: bool = False) -> WorkerOptions:
    return WorkerOptions(
        concurrency=settings.worker_concurrency,
        tenant_timeout=settings.worker_tenant_timeout,
        loop_seconds=settings.worker_loop_seconds,
        batch=settings.worker_batch,
        dry_run=dry_run,
        poll_seconds=settings.worker_poll_seconds,
    )


def worker_id() -> str:
    # Heroku sets DYNO (worker.1, worker.2, ...); the pid tells restarts apart.
    return f"{os.environ.get('DYNO') or socket.gethostname()}:{os.getpid()}"


@asynccontextmanager
async def worker(
    settings: Settings,
    *,
    engine: Engine | None = None,
    dry_run: bool = False,
    name: str | None = None,
) -> AsyncIterator[Worker]:
    """A ready Worker with its engine, HTTP clients and broker threads; all closed on exit."""
    own_engine = engine is None
    engine = engine or make_engine(settings)
    call = settings.worker_call_timeout  # each HTTP or AMQP call the worker makes
    async with contextlib.AsyncExitStack() as stack:
        # As many connections as tenants in flight, and a few for Heroku beside them.
        http = await stack.enter_async_context(
            async_client(
                timeout=call,
                max_connections=settings.worker_concurrency + 10,
                keepalive_expiry=settings.http_keepalive,
            )
        )
        # The broker URL's re-read (rare) uses the sync adapter the config API uses.
        sync_http = stack.enter_context(httpx.Client(timeout=call))

        # As many threads as tenants in flight: a tick never waits for a thread
        # behind other tenants' brokers.
        amqp_pool = ThreadPoolExecutor(
            settings.worker_concurrency, thread_name_prefix="guvscale-amqp"
        )
        # No wait: a call still running ends within its own timeout, and must not
        # hold up the loop's exit (the interpreter's exit waits for it).
        stack.callback(amqp_pool.shutdown, wait=False, cancel_futures=True)

        def platform() -> HerokuPlatform:
            return heroku_platform(settings, sync_http, timeout=call)

        ctx = Context(
            heroku=AsyncHerokuPlatform(http, settings.heroku_api_url, USER_AGENT, timeout=call),
            http=http,
            fence=_unset_fence,
            amqp=AmqpThreads(_passive_declare, amqp_pool),
            timeout=call,
            allow_private=settings.private_brokers_allowed,
            dry_run=dry_run,
            rng=random.Random(),  # noqa: S311 - jitter, not a secret
            platform=platform,
        )
        try:
            yield Worker(
                make_sessionmaker(engine),
                vault(settings),
                ctx,
                worker_options(settings, dry_run=dry_run),
                name or worker_id(),
            )
        finally:
            if own_engine:
                engine.dispose()


def _passive_declare(url: str, queue: str, timeout: float, allow: bool) -> tuple[int, int]:
    return passive_declare(url, queue, timeout=timeout, allow_private=allow)


async def _unset_fence(*args: object) -> list[int] | None:
    raise RuntimeError("Worker replaces the fence")  # pragma: no cover
