"""guvscale.worker.queues.read against a mocked or silent management API: what
it asks the broker for, that what it reads can be stored, and that a hanging
one leaves the tick time for the AMQP fallback."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import httpx
import pytest
import respx
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker

from guvscale.rabbitmq.management import COUNT_MAX
from guvscale.worker.queues import PassiveDeclare, Reading, read
from tests import factories
from tests.rabbitmq_fixtures import Broker
from tests.workload.publisher import publish

BROKER = "amqps://user:pw-5e4d3c@rabbit.example/vh"
MANAGEMENT = "https://rabbit.example"


async def no_declare(url: str, queue: str, timeout: float, allow_private: bool) -> tuple[int, int]:
    raise AssertionError("the management API answered: no fallback")


def read_now(queues: list[str], declare: PassiveDeclare = no_declare) -> Reading:
    """One read of `queues` on BROKER (its management API derived: MANAGEMENT)."""

    async def go() -> Reading:
        async with httpx.AsyncClient() as http:
            return await read(
                http, BROKER, None, queues, timeout=2, passive_declare=declare, allow_private=True
            )

    return asyncio.run(go())


def test_only_the_tenants_queues_are_asked_for() -> None:

    queues = [
        {"name": name, "messages_ready": ready, "messages_unacknowledged": 1, "consumers": 2}
        for name, ready in (("jobs", 7), ("mail", 0))
    ]
    with respx.mock(assert_all_called=False) as mock:
        # The vhost also holds queues the tenant does not scale on.
        listed = mock.get(f"{MANAGEMENT}/api/queues/vh").respond(
            200, json=[*queues, {"name": "other", "messages_ready": 1}]
        )
        for queue in queues:
            mock.get(f"{MANAGEMENT}/api/queues/vh/{queue['name']}").respond(200, json=queue)
        reading = read_now(["jobs", "mail"])
    assert not listed.called
    assert {name: s.ready for name, s in reading.stats.items()} == {"jobs": 7, "mail": 0}
    assert reading.error is None and not reading.errors


def test_the_highest_count_read_fits_the_samples_columns(
    sessions: sessionmaker[Session],
) -> None:
    """The adapter clamps counts to COUNT_MAX (test_rabbitmq_management.py); one
    more would fail the insert, and with it every tenant's samples in the batch."""
    tenant = factories.add_tenant(sessions)
    at = dt.datetime.now(dt.UTC)
    most = {"ready": COUNT_MAX, "unacked": COUNT_MAX, "consumers": COUNT_MAX, "partial": True}
    factories.record_samples(sessions, tenant, "worker", [{"at": at, **most}])
    one_more = {"at": at + dt.timedelta(seconds=1), "ready": COUNT_MAX + 1}
    with pytest.raises(DataError, match="out of range"):
        factories.record_samples(sessions, tenant, "worker", [one_more])


def test_a_hanging_management_api_leaves_the_tick_time_for_the_amqp_fallback(
    world: factories.WorkerWorld,
) -> None:
    """With the default timeouts' ratio (HTTP_TIMEOUT 10 s, WORKER_TENANT_TIMEOUT
    8 s, halved here), a management API that never answers once held the read
    past the tick's end: no AMQP fallback, no scaling. The test settings (2 s and
    6 s) hid it. Only AMQP is needed: the management API is this silent port."""
    amqp = Broker(factories.LOCAL_BROKER)
    silent = socket.create_server(("127.0.0.1", 0))  # connections wait in its backlog
    try:
        queue = amqp.queue("hang")
        publish(amqp.url, queue, 3)
        port = silent.getsockname()[1]
        t = world.tenant(
            factories.role_rules(queue),
            {"worker": 1},
            management_url=f"http://guest:guest@127.0.0.1:{port}",
        )
        world.rounds(http_timeout=5.0, worker_tenant_timeout=4.0)
    finally:
        silent.close()
        amqp.close()
    status = world.state(t.id).status
    assert status["error"] is None, status  # was: the tick took over 4 s
    [role] = status["roles"]
    assert (role["ready"], role["partial"]) == (3, True), status
    assert "ready counts only, over AMQP" in role["error"]


def test_amqp_counts_past_the_samples_columns_are_held_to_them() -> None:
    # A passive declare's counts are 32-bit unsigned; the samples' columns
    # signed: 2**32 - 1 ready failed the tenant's samples (the management
    # API's counts are clamped in its adapter the same way).
    async def declare(url: str, queue: str, timeout: float, allow: bool) -> tuple[int, int]:
        return 2**32 - 1, 2**32 - 1

    with respx.mock() as mock:
        mock.get(f"{MANAGEMENT}/api/queues/vh/jobs").mock(side_effect=httpx.ConnectError("no"))
        reading = read_now(["jobs"], declare)
    stats = reading.stats["jobs"]
    assert (stats.ready, stats.consumers, stats.partial) == (COUNT_MAX, COUNT_MAX, True)
