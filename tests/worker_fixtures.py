"""The worker under test: real PostgreSQL, the machine's RabbitMQ, the fake Heroku over HTTP.

Its queues come from tests/rabbitmq_fixtures.py (`broker`, `Broker`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from guvscale import wiring
from guvscale.db.crypto import Vault
from guvscale.settings import Settings
from guvscale.worker.run import Worker
from tests.factories import WorkerWorld
from tests.fake_heroku.fixtures import FakeHeroku
from tests.web_fixtures import make_settings


@pytest.fixture
def worker_settings(database_url: str, fake_heroku: FakeHeroku) -> Settings:
    return make_settings(
        database_url=database_url,
        heroku_api_url=fake_heroku.api_url,
        heroku_id_url=fake_heroku.id_url,
        http_timeout=2.0,
        worker_tenant_timeout=6.0,
    )


@pytest.fixture
def vault(worker_settings: Settings) -> Vault:
    return wiring.vault(worker_settings)


@pytest.fixture
def make_worker(
    worker_settings: Settings, engine: Engine, sessions: object
) -> Callable[..., object]:
    """`async with make_worker(name="a") as w:` a Worker on the test database."""

    @asynccontextmanager
    async def build(
        *, name: str = "w1", dry_run: bool = False, **settings: object
    ) -> AsyncIterator[Worker]:
        chosen = worker_settings.model_copy(update=settings) if settings else worker_settings
        async with wiring.worker(chosen, engine=engine, dry_run=dry_run, name=name) as w:
            yield w

    return build


@pytest.fixture
def world(
    make_worker: Callable[..., object],
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
) -> WorkerWorld:
    """The worker, the database and the fake Heroku in one (tests/factories.py)."""
    return WorkerWorld(make_worker, sessions, vault, fake_heroku)
