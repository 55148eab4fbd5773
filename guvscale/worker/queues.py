"""Reading a tenant's queues: the management API (a GET per queue), AMQP as the fallback.

The fallback (passive declare) sees only ready counts and consumers, so its
readings are marked partial and never justify a scale-down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from guvscale.rabbitmq import (
    BrokerError,
    BrokerUnreachable,
    ManagementClient,
    QueueMissing,
    QueueStats,
    management_url_for,
    vhost_of,
)
from guvscale.rabbitmq.management import COUNT_MAX

# (amqp_url, queue, timeout, allow_private) -> (ready, consumers), on threads of its own
PassiveDeclare = Callable[[str, str, float, bool], Awaitable[tuple[int, int]]]


@dataclass
class Reading:
    stats: dict[str, QueueStats] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # queue -> why it has no stats
    error: str | None = None  # the broker as a whole
    error_kind: str | None = None
    partial: bool = False


async def read(
    http: httpx.AsyncClient,
    broker_url: str | None,
    management_url: str | None,
    queues: list[str],
    *,
    timeout: float,
    passive_declare: PassiveDeclare,
    allow_private: bool,
    deadline: float | None = None,
) -> Reading:
    """Stats of `queues`. Unless `allow_private`, a broker resolving to a private,
    loopback or link-local address is refused (its URL is user input). `deadline`
    (monotonic) is the end of the tick."""
    reading = Reading()
    wait = timeout
    if deadline is not None:
        # A third of what is left of the tick at most: a hanging management API
        # must leave time for the AMQP fallback and a broker-URL rotation (by
        # default HTTP_TIMEOUT, 10 s, is longer than the whole 8 s tick).
        wait = min(timeout, max(deadline - time.monotonic(), 0.0) / 3)
    if not broker_url and not management_url:
        reading.error, reading.error_kind = "no broker URL is configured", "broker_missing"
        return reading
    try:
        url = management_url or management_url_for(broker_url or "")
        vhost = vhost_of(broker_url) if broker_url else "/"
        listed = await asyncio.wait_for(
            ManagementClient(http, url, timeout=wait, allow_private=allow_private).named(
                vhost, queues
            ),
            wait,
        )
    except (BrokerUnreachable, TimeoutError) as exc:
        if not broker_url:
            reading.error, reading.error_kind = _text(exc), "broker_unreachable"
            return reading

        def declare(url: str, queue: str, seconds: float) -> Awaitable[tuple[int, int]]:
            return passive_declare(url, queue, seconds, allow_private)

        return await _fallback(reading, broker_url, queues, timeout, declare, exc)
    except BrokerError as exc:
        reading.error, reading.error_kind = exc.message, exc.kind
        return reading
    for name in queues:
        if name in listed:
            reading.stats[name] = listed[name]
        else:
            reading.errors[name] = f"queue {name!r} not found"
    return reading


async def _fallback(
    reading: Reading,
    broker_url: str,
    queues: list[str],
    timeout: float,
    passive_declare: Callable[[str, str, float], Awaitable[tuple[int, int]]],
    cause: Exception,
) -> Reading:
    reading.partial = True
    reading.error_kind = "management_unreachable"
    why = _text(cause)
    for name in queues:
        try:
            ready, consumers = await asyncio.wait_for(
                passive_declare(broker_url, name, timeout), timeout + 1
            )
        except QueueMissing:
            reading.errors[name] = f"queue {name!r} not found"
            continue
        except (BrokerError, TimeoutError) as exc:
            reading.error = f"management API: {why}; AMQP: {_text(exc)}"
            reading.error_kind = "broker_unreachable"
            reading.stats.clear()
            return reading
        # AMQP counts are 32-bit unsigned: held to the samples' columns, as the
        # management API's are (`management.COUNT_MAX`); the reading is partial anyway.
        reading.stats[name] = QueueStats(
            name,
            min(ready, COUNT_MAX),
            0,
            min(consumers, COUNT_MAX),
            None,
            None,
            None,
            None,
            partial=True,
        )
    reading.error = f"management API unreachable ({why}); ready counts only, over AMQP"
    return reading


def _text(exc: BaseException) -> str:
    if isinstance(exc, BrokerError):
        return exc.message
    return "no answer in time" if isinstance(exc, TimeoutError) else type(exc).__name__
