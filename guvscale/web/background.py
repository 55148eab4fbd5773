"""Work the web process does off the request path (e.g. finishing async provisioning).

Each service has start() and stop(); the app's lifespan runs them. Kept in
one list so `guvscale dev` and tests can see what runs. Clients come from
`guvscale.wiring`, like the worker's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import Protocol

from fastapi import FastAPI

from guvscale import wiring
from guvscale.clock import utcnow
from guvscale.jobs import provisioning
from guvscale.jobs.service import PollingService
from guvscale.settings import Settings
from guvscale.worker.run import run_forever

log = logging.getLogger(__name__)

PROVISION_POLL_SECONDS = 1.0


class BackgroundService(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def provision_runner(app: FastAPI) -> PollingService:
    """Finishes asynchronous provisioning; several web processes may each run one."""
    settings: Settings = app.state.settings
    identity = wiring.heroku_identity(settings, app.state.http)
    platform = wiring.heroku_platform(settings, app.state.http)
    issuer = wiring.config_issuer(settings)
    rng = random.Random()  # noqa: S311 - jitter, not a secret

    def work() -> int:
        return provisioning.run_once(
            app.state.sessions,
            identity,
            platform,
            app.state.vault,
            issuer,
            utcnow(),
            rng=rng,
        )

    return PollingService(
        "provision-runner", work, interval=PROVISION_POLL_SECONDS, outage=app.state.outage
    )


class WorkerThread:
    """The scaling worker on its own event loop in a thread (`guvscale dev`)."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="scaling-worker", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def _main(self) -> None:
        async def run() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            settings: Settings = self._app.state.settings
            async with wiring.worker(settings, engine=self._app.state.engine) as worker:
                await run_forever(worker, self._stop)

        try:
            asyncio.run(run())
        except Exception:
            log.exception("the in-process worker stopped")
        finally:
            self._ready.set()


def services_for(app: FastAPI) -> list[BackgroundService]:
    services: list[BackgroundService] = [provision_runner(app)]
    if app.state.settings.worker_in_web:
        services.append(WorkerThread(app))
    return services
