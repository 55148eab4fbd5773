"""The threads the AMQP fallback runs on.

A passive declare is blocking I/O on a tenant's broker. It runs on a pool
built for it alone (guvscale/wiring.py), never on asyncio's default executor:
that one also runs the worker's claims, saves, lease fence and name lookups,
and broker calls that stall there would starve every tenant of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor

# (amqp_url, queue, timeout, allow_private) -> (ready, consumers); blocking
BlockingDeclare = Callable[[str, str, float, bool], tuple[int, int]]


class AmqpThreads:
    def __init__(self, declare: BlockingDeclare, executor: Executor) -> None:
        self._declare = declare
        self._executor = executor

    async def declare(
        self, url: str, queue: str, timeout: float, allow_private: bool
    ) -> tuple[int, int]:
        return await asyncio.wrap_future(
            self._executor.submit(self._declare, url, queue, timeout, allow_private)
        )
