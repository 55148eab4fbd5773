"""The threads the AMQP fallback runs on, and at most one call per tenant.

A passive declare is blocking I/O on a tenant's broker. It runs on a pool
built for it alone (guvscale/wiring.py), never on asyncio's default executor:
that one also runs the worker's claims, saves, lease fence and name lookups,
and broker calls that stall there would starve every tenant of them.

A tick that gives up on its call (its own timeout, or the tenant's budget)
cannot stop the thread. So while a tenant's call is still running, its next
one is refused at once and that tenant's reading is unavailable: one broker
holds one thread at most, however many ticks it stalls.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor

from guvscale.rabbitmq import BrokerUnreachable, mask_url
from guvscale.worker.queues import PassiveDeclare

# (amqp_url, queue, timeout, allow_private) -> (ready, consumers); blocking
BlockingDeclare = Callable[[str, str, float, bool], tuple[int, int]]


class AmqpThreads:
    def __init__(self, declare: BlockingDeclare, executor: Executor) -> None:
        self._declare = declare
        self._executor = executor
        self._running: set[str] = set()  # tenants with a call on a thread
        self._lock = threading.Lock()  # calls end on the pool's threads

    def for_tenant(self, tenant: str) -> PassiveDeclare:
        return functools.partial(self.declare, tenant)

    async def declare(
        self, tenant: str, url: str, queue: str, timeout: float, allow_private: bool
    ) -> tuple[int, int]:
        with self._lock:
            if tenant in self._running:
                raise BrokerUnreachable(
                    f"{mask_url(url)}: the previous AMQP read has not finished; not asked again"
                )
            self._running.add(tenant)
        try:
            future = self._executor.submit(self._declare, url, queue, timeout, allow_private)
        except BaseException:
            self._finished(tenant)
            raise
        # When the thread is done (or the call is cancelled before it starts),
        # not when the caller stops waiting.
        future.add_done_callback(lambda _: self._finished(tenant))
        return await asyncio.wrap_future(future)

    def _finished(self, tenant: str) -> None:
        with self._lock:
            self._running.discard(tenant)
