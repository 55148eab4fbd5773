"""The machine's RabbitMQ for tests: a fresh vhost per test, removed after."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

ADMIN = httpx.BasicAuth("guest", "guest")
MANAGEMENT = "http://127.0.0.1:15672"


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
