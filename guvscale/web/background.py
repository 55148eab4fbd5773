"""Work the web process does off the request path (e.g. finishing async provisioning).

Each service has start() and stop(); the app's lifespan runs them. Kept in
one list so `guvscale dev` and tests can see what runs.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Protocol

from fastapi import FastAPI

import guvscale
from guvscale.heroku.identity import HerokuIdentity
from guvscale.heroku.platform import HerokuPlatform
from guvscale.jobs import provisioning
from guvscale.jobs.service import PollingService
from guvscale.services.config_vars import ConfigIssuer
from guvscale.settings import Settings

PROVISION_POLL_SECONDS = 1.0


class BackgroundService(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def provision_runner(app: FastAPI) -> PollingService:
    """Finishes asynchronous provisioning; several web processes may each run one."""
    settings: Settings = app.state.settings
    user_agent = f"guvscale/{guvscale.__version__}"
    identity = HerokuIdentity(
        app.state.http,
        settings.heroku_id_url,
        settings.heroku_oauth_secret,
        timeout=settings.http_timeout,
        user_agent=user_agent,
    )
    platform = HerokuPlatform(
        app.state.http, settings.heroku_api_url, user_agent, timeout=settings.http_timeout
    )
    issuer = ConfigIssuer(settings.secret_key, settings.public_url)
    rng = random.Random()  # noqa: S311 - jitter, not a secret

    def work() -> int:
        return provisioning.run_once(
            app.state.sessions,
            identity,
            platform,
            app.state.vault,
            issuer,
            dt.datetime.now(dt.UTC),
            rng=rng,
        )

    return PollingService(
        "provision-runner", work, interval=PROVISION_POLL_SECONDS, outage=app.state.outage
    )


def services_for(app: FastAPI) -> list[BackgroundService]:
    return [provision_runner(app)]
