"""The AMQP fallback's threads (guvscale/worker/amqp_threads.py): one call per
tenant at a time, held until its thread is done, not until its caller gives up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from guvscale.rabbitmq import BrokerUnreachable
from guvscale.worker.amqp_threads import AmqpThreads

URL = "amqp://guest:threads-secret-pw@broker.example/"
GATE_GUARD = 30.0  # seconds a held call waits at most, should a test fail before releasing it


class HeldDeclare:
    """A blocking declare that runs until released, recording each call's queue."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.calls: list[str] = []

    def __call__(
        self, url: str, queue: str, timeout: float, allow_private: bool
    ) -> tuple[int, int]:
        self.calls.append(queue)
        self.gate.wait(GATE_GUARD)
        return 7, 1


@pytest.fixture
def held() -> Iterator[HeldDeclare]:
    declare = HeldDeclare()
    yield declare
    declare.gate.set()


async def started(held: HeldDeclare, count: int) -> None:
    """Once `count` calls have reached their thread (a hang guard, not a timing)."""

    async def poll() -> None:
        while len(held.calls) < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), GATE_GUARD)


async def once_free(threads: AmqpThreads, tenant: str, queue: str) -> tuple[int, int]:
    """The tenant's next call, as soon as its last one's thread is done."""

    async def poll() -> tuple[int, int]:
        while True:
            try:
                return await threads.declare(tenant, URL, queue, 1, True)
            except BrokerUnreachable:
                await asyncio.sleep(0.01)

    return await asyncio.wait_for(poll(), GATE_GUARD)


def test_a_tenants_next_call_is_refused_while_its_last_still_runs(held: HeldDeclare) -> None:
    async def go() -> None:
        with ThreadPoolExecutor(4) as pool:
            threads = AmqpThreads(held, pool)
            # The tick gives up; the thread runs on.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(threads.declare("a", URL, "first", 1, True), 0.2)
            with pytest.raises(BrokerUnreachable, match="not finished") as refused:
                await threads.declare("a", URL, "second", 1, True)
            assert "threads-secret-pw" not in str(refused.value)
            # Another tenant is not held up by it.
            other = asyncio.ensure_future(threads.declare("b", URL, "other", 1, True))
            await started(held, 2)
            assert held.calls == ["first", "other"]

            held.gate.set()
            assert await other == (7, 1)
            assert await once_free(threads, "a", "third") == (7, 1)
            assert held.calls == ["first", "other", "third"]

    asyncio.run(go())


def test_a_call_given_up_before_it_got_a_thread_frees_its_tenant(held: HeldDeclare) -> None:
    async def go() -> None:
        with ThreadPoolExecutor(1) as pool:
            threads = AmqpThreads(held, pool)
            busy = asyncio.ensure_future(threads.declare("a", URL, "busy", 1, True))
            await started(held, 1)
            # b waits behind a for the one thread, and gives up first: its call never ran.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(threads.declare("b", URL, "queued", 1, True), 0.2)
            held.gate.set()
            assert await busy == (7, 1)
            assert await threads.declare("b", URL, "again", 1, True) == (7, 1)
            assert held.calls == ["busy", "again"]

    asyncio.run(go())
