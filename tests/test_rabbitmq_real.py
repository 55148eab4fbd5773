"""The RabbitMQ adapter against the machine's real broker (scripts/services starts it).

Each test uses its own vhost or queue with a random suffix and removes it after.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pika
import pytest

from guvscale.rabbitmq import (
    BrokerAuthFailed,
    BrokerRefused,
    BrokerUnreachable,
    ManagementClient,
    QueueMissing,
    QueueStats,
    VhostMissing,
    management_url_for,
    passive_declare,
    urls,
)
from tests.live_server import free_port
from tests.rabbitmq_fixtures import amqp_url


def read_queues(url: str, vhost: str) -> dict[str, QueueStats]:
    async def go() -> dict[str, QueueStats]:
        async with httpx.AsyncClient() as http:
            return await ManagementClient(http, url, timeout=5).queues(vhost)

    return asyncio.run(go())


def wait_for(
    url: str, vhost: str, queue: str, ready: int, unacked: int, consumers: int | None = None
) -> QueueStats:
    """The management API refreshes its figures every few seconds: poll until they show."""
    deadline = time.monotonic() + 30
    while True:
        stats = read_queues(url, vhost).get(queue)
        # Consumers too: RabbitMQ's figures for them may lag the message counts.
        if (
            stats
            and not stats.partial
            and (stats.ready, stats.unacked, stats.published) == (ready, unacked, ready + unacked)
            and (consumers is None or stats.consumers == consumers)
        ):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"queue {queue} never showed {ready}/{unacked}: {stats}")
        time.sleep(0.5)


def test_queues_and_passive_declare_read_a_filled_queue(vhost: str) -> None:
    url = amqp_url(vhost)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.queue_declare("jobs")
        channel.queue_declare("idle")
        for i in range(10):
            channel.basic_publish("", "jobs", f"job {i}".encode())
        # A consumer that takes 3 and never acks them: busy, as a worker would be.
        consumer = connection.channel()
        consumer.basic_qos(prefetch_count=3)
        consumer.basic_consume("jobs", lambda *args: None, auto_ack=False)
        connection.process_data_events(time_limit=1)

        stats = wait_for(management_url_for(url), vhost, "jobs", ready=7, unacked=3, consumers=1)
        assert stats.consumers == 1
        assert stats.partial is False
        assert read_queues(management_url_for(url), vhost)["idle"].ready == 0

        # AMQP sees the ready count and the consumer, not the 3 in flight.
        assert passive_declare(url, "jobs", timeout=5) == (7, 1)
    finally:
        connection.close()


def test_a_missing_queue_and_vhost_are_named(vhost: str) -> None:
    url = amqp_url(vhost)
    with pytest.raises(QueueMissing, match="nope"):
        passive_declare(url, "nope", timeout=5)

    async def go() -> None:
        async with httpx.AsyncClient() as http:
            client = ManagementClient(http, management_url_for(url), timeout=5)
            with pytest.raises(QueueMissing):
                await client.queue(vhost, "nope")
            with pytest.raises(VhostMissing):
                await client.queues(vhost + "-absent")

    asyncio.run(go())


def test_a_wrong_password_is_auth_failed_and_never_shown(vhost: str) -> None:
    wrong = "wrong-" + secrets.token_hex(6)
    url = amqp_url(vhost, password=wrong)
    with pytest.raises(BrokerAuthFailed) as by_http:
        read_queues(management_url_for(url), vhost)
    with pytest.raises(BrokerAuthFailed) as by_amqp:
        passive_declare(url, "jobs", timeout=5)
    for error in (by_http.value, by_amqp.value):
        assert wrong not in str(error)


def test_nothing_listening_is_unreachable() -> None:
    port = free_port()
    with pytest.raises(BrokerUnreachable):
        passive_declare(f"amqp://guest:guest@127.0.0.1:{port}/", "jobs", timeout=2)
    with pytest.raises(BrokerUnreachable):
        read_queues(f"http://guest:guest@127.0.0.1:{port}", "/")


def test_a_guarded_passive_declare_refuses_the_local_broker() -> None:
    with pytest.raises(BrokerRefused, match="loopback"):
        passive_declare("amqp://guest:guest@localhost/", "jobs", timeout=5, allow_private=False)


def test_a_pinned_passive_declare_reaches_the_real_broker(
    vhost: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urls, "is_public", lambda address: True)
    url = amqp_url(vhost).replace("127.0.0.1", "localhost")
    with pytest.raises(QueueMissing):
        passive_declare(url, "nope", timeout=5, allow_private=False)


def test_a_guarded_client_refuses_the_local_broker_and_never_connects() -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            client = ManagementClient(
                http, "http://guest:guest@localhost:15672", timeout=5, allow_private=False
            )
            with pytest.raises(BrokerRefused, match="loopback"):
                await client.queues("/")

    asyncio.run(go())


def test_a_pinned_request_reaches_the_real_management_api(
    vhost: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The address-pinned path over a real socket (the address check waved through)."""
    monkeypatch.setattr(urls, "is_public", lambda address: True)

    async def go() -> dict[str, QueueStats]:
        async with httpx.AsyncClient() as http:
            client = ManagementClient(
                http, "http://guest:guest@localhost:15672", timeout=5, allow_private=False
            )
            return await client.queues(vhost)

    assert asyncio.run(go()) == {}
