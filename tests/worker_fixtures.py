"""The worker under test: real PostgreSQL, the machine's RabbitMQ, the fake Heroku over HTTP."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager

import httpx
import pika
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

AMQP = pika.URLParameters("amqp://guest:guest@127.0.0.1:5672/%2F")
MANAGEMENT = "http://127.0.0.1:15672"


class Broker:
    """Unique queues on the local RabbitMQ, deleted after the test."""

    def __init__(self) -> None:
        self.connection = pika.BlockingConnection(AMQP)
        self.channel = self.connection.channel()
        self.queues: list[str] = []

    def queue(self, messages: int = 0) -> str:
        name = f"gvs-test-{secrets.token_hex(4)}"
        self.channel.queue_declare(name, auto_delete=False)
        self.queues.append(name)
        self.publish(name, messages)
        return name

    def publish(self, queue: str, messages: int) -> None:
        for i in range(messages):
            self.channel.basic_publish("", queue, f"job {i}".encode())

    def wait_visible(self, queue: str, ready: int, timeout: float = 20.0) -> None:
        """Until the management API shows `ready` (it refreshes its stats every few seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = httpx.get(f"{MANAGEMENT}/api/queues/%2F/{queue}", auth=("guest", "guest")).json()
            if body.get("messages_ready") == ready and "message_stats" in body:
                return
            time.sleep(0.25)
        raise AssertionError(f"management API never showed {ready} ready in {queue}")

    def close(self) -> None:
        for name in self.queues:
            self.channel.queue_delete(name)
        self.connection.close()


@pytest.fixture
def broker() -> Iterator[Broker]:
    b = Broker()
    yield b
    b.close()


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


MakeWorker = Callable[..., "asynccontextmanager[Worker]"]


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
