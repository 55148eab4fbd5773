"""The machine's RabbitMQ (127.0.0.1:5672, guest/guest; scripts/services starts it).

Other runs share the broker, so every test gets its own vhost or queues
(random names), removed after.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pika
import pytest

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


def queue_counts(queue: str) -> Counts:
    """The management API's view of one queue on the default vhost."""
    answer = httpx.get(
        f"{MANAGEMENT}/api/queues/%2F/{quote(queue, safe='')}",
        auth=ADMIN,
        timeout=10,
    )
    answer.raise_for_status()
    body = answer.json()
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


@pytest.fixture
def rabbit_queue(rabbitmq: str) -> Iterator[Callable[[str], str]]:
    """Declares queues of unique names (`rabbit_queue("jobs")` -> "gvs-test-jobs-1a2b3c4d");
    deletes them after."""
    made: list[str] = []

    def make(prefix: str = "q") -> str:
        name = f"gvs-test-{prefix}-{secrets.token_hex(4)}"
        connection = pika.BlockingConnection(pika.URLParameters(rabbitmq))
        try:
            connection.channel().queue_declare(name)  # as the consumers and publisher do
        finally:
            connection.close()
        made.append(name)
        return name

    yield make
    connection = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    try:
        channel = connection.channel()
        for name in made:
            channel.queue_delete(name)
    finally:
        connection.close()
