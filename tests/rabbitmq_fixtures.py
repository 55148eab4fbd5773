"""The machine's RabbitMQ (127.0.0.1:5672, guest/guest; scripts/services starts it).

Other runs share the broker, so every test gets its own vhost or queues
(random names), removed after. `Broker` is the one place test queues are
declared, filled, purged and deleted; the `rabbit_queue` and `broker` fixtures
are both made of it. `proxied_broker` puts the same broker behind TCP proxies a
test can cut (tests/tcp_proxy.py), for outages that leave the shared server up.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from tests.tcp_proxy import TcpProxy
from tests.workload.publisher import publish

ADMIN = httpx.BasicAuth("guest", "guest")
MANAGEMENT = "http://127.0.0.1:15672"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def amqp_url(vhost: str, password: str = "guest", user: str = "guest") -> str:
    return f"amqp://{user}:{password}@127.0.0.1:5672/{quote(vhost, safe='')}"


@pytest.fixture
def vhost() -> Iterator[str]:
    """A fresh vhost whose name needs url-encoding ("/" and a space); guest may use it."""
    name = f"gvs-test/{secrets.token_hex(4)} x"
    path = f"{MANAGEMENT}/api/vhosts/{quote(name, safe='')}"
    httpx.put(path, auth=ADMIN, timeout=10).raise_for_status()
    perms = f"{MANAGEMENT}/api/permissions/{quote(name, safe='')}/guest"
    body = {"configure": ".*", "write": ".*", "read": ".*"}
    httpx.put(perms, auth=ADMIN, json=body, timeout=10).raise_for_status()
    yield name
    httpx.delete(path, auth=ADMIN, timeout=10)


@dataclass(frozen=True)
class Counts:
    ready: int
    unacked: int
    consumers: int


def queue_body(queue: str) -> dict[str, Any]:
    """The management API's answer for one queue on the default vhost."""
    answer = httpx.get(
        f"{MANAGEMENT}/api/queues/%2F/{quote(queue, safe='')}",
        auth=ADMIN,
        timeout=10,
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def queue_counts(queue: str) -> Counts:
    """The management API's view of one queue on the default vhost."""
    body = queue_body(queue)
    return Counts(
        body.get("messages_ready", 0),
        body.get("messages_unacknowledged", 0),
        body.get("consumers", 0),
    )


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """The broker's AMQP URL, once it answers (both AMQP and the management API)."""
    problem = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pika.BlockingConnection(pika.URLParameters(AMQP_URL)).close()
            httpx.get(f"{MANAGEMENT}/api/overview", auth=ADMIN, timeout=5).raise_for_status()
            return AMQP_URL
        except Exception as error:  # not up yet: scripts/services may have just started it
            problem = repr(error)
            time.sleep(1)
    pytest.fail(f"RabbitMQ at 127.0.0.1 (AMQP and management) does not answer: {problem}")


class Broker:
    """Queues of unique names on the default vhost, each deleted by `close()`.

    Every call opens a connection of its own and closes it: a test that runs
    for minutes never finds a held connection dropped by its heartbeat.
    """

    def __init__(self, url: str = AMQP_URL) -> None:
        self.url = url
        self.queues: list[str] = []

    @contextmanager
    def _channel(self) -> Iterator[BlockingChannel]:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            yield connection.channel()
        finally:
            connection.close()

    def queue(self, prefix: str = "q", *, messages: int = 0) -> str:
        """A new queue ("gvs-test-<prefix>-1a2b3c4d") holding `messages` jobs."""
        name = f"gvs-test-{prefix}-{secrets.token_hex(4)}"
        with self._channel() as channel:
            channel.queue_declare(name)  # as the consumers and publisher do
        self.queues.append(name)
        self.publish(name, messages)
        return name

    def publish(self, queue: str, messages: int) -> None:
        """`messages` jobs, each confirmed by the broker (tests.workload.publisher);
        the connection stays open until the queue's publish counter shows them."""
        if messages:
            publish(self.url, queue, messages, linger_until=lambda: self._stats(queue) is not None)

    def purge(self, queue: str) -> None:
        """Drop every ready message in `queue`."""
        with self._channel() as channel:
            channel.queue_purge(queue)

    def _stats(self, queue: str) -> dict[str, object] | None:
        stats = queue_body(queue).get("message_stats")
        return stats if isinstance(stats, dict) and "publish" in stats else None

    def wait_visible(self, queue: str, ready: int, timeout: float = 60.0) -> None:
        """Until the management API shows `ready` (it refreshes its stats every few seconds)."""
        deadline = time.monotonic() + timeout
        seen: dict[str, Any] = {}
        while time.monotonic() < deadline:
            seen = queue_body(queue)
            if seen.get("messages_ready") == ready and "message_stats" in seen:
                return
            time.sleep(0.25)
        shown = {k: seen.get(k) for k in ("messages_ready", "messages_unacknowledged", "consumers")}
        raise AssertionError(
            f"management API never showed {ready} ready in {queue} within {timeout:.0f} s; "
            f"last seen {shown}, message_stats {'present' if 'message_stats' in seen else 'absent'}"
        )

    def close(self) -> None:
        """Delete every queue made here."""
        if self.queues:
            with self._channel() as channel:
                for name in self.queues:
                    channel.queue_delete(name)
            self.queues.clear()


@pytest.fixture
def rabbit_queue(rabbitmq: str) -> Iterator[Callable[[str], str]]:
    """Declares queues of unique names (`rabbit_queue("jobs")` -> "gvs-test-jobs-1a2b3c4d");
    deletes them after."""
    made = Broker(rabbitmq)
    yield made.queue
    made.close()


@pytest.fixture
def broker(rabbitmq: str) -> Iterator[Broker]:
    """A `Broker` for the test: `broker.queue(messages=5)`, `broker.wait_visible(...)`."""
    made = Broker(rabbitmq)
    yield made
    made.close()


@dataclass(frozen=True)
class ProxiedBroker:
    """The machine's RabbitMQ behind two proxies (AMQP and management) a test can cut;
    hand `url` and `management_url` to the code under test, and fill and purge its
    queues through a `Broker`, which reaches the broker directly."""

    amqp: TcpProxy
    management: TcpProxy

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp.port}/%2F"

    @property
    def management_url(self) -> str:
        return f"http://guest:guest@127.0.0.1:{self.management.port}"


@pytest.fixture
def proxied_broker(rabbitmq: str) -> Iterator[ProxiedBroker]:
    """A `ProxiedBroker` for the test: `proxied_broker.amqp.cut()`, `.management.answer(500)`."""
    with TcpProxy(("127.0.0.1", 5672)) as amqp, TcpProxy(("127.0.0.1", 15672)) as management:
        yield ProxiedBroker(amqp, management)
