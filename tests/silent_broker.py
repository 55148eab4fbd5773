"""An AMQP server that goes silent: it answers the handshake up to a chosen
step, then keeps reading and never answers again, as a malicious broker or a
network blackhole after connect would. The AMQP fallback's tests use it
(tests/test_rabbitmq_silent.py, tests/test_worker.py).

    with SilentBroker("declare") as broker:   # handshake, channel, then nothing
        passive_declare(broker.url, "jobs", timeout=1)

Runs its own asyncio loop on a thread (like tests/tcp_proxy.py), so a blocking
client and a worker's own loop can both talk to it. With `tls` it serves amqps
(tests/raw_server.py's self_signed makes a certificate for localhost).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import threading
from typing import Any, Literal

import pika.frame
import pika.spec

# Where it stops answering: after the protocol header (`connect`), the login
# (`login`, no Tune), Connection.Open (`open`), Channel.Open (`channel`) or
# Queue.Declare (`declare`). `trickle` sends Connection.Start a byte at a time,
# slower than any timeout; `huge` announces a 1 GiB frame and sends none of it.
Step = Literal["connect", "login", "open", "channel", "declare", "trickle", "huge"]
STEPS: tuple[Step, ...] = ("connect", "login", "open", "channel", "declare", "trickle", "huge")


def _method(channel: int, method: Any) -> bytes:
    return bytes(pika.frame.Method(channel, method).marshal())


START = _method(
    0,
    pika.spec.Connection.Start(server_properties={}, mechanisms="PLAIN", locales="en_US"),
)


class SilentBroker:
    def __init__(self, silent_at: Step = "declare", *, tls: ssl.SSLContext | None = None) -> None:
        self.silent_at, self.tls = silent_at, tls
        self.connections = 0
        self.declares = 0  # Queue.Declare frames received
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"amqps://guest:silent-secret-pw@localhost:{self.port}/"
        return f"amqp://guest:silent-secret-pw@127.0.0.1:{self.port}/"

    def start(self) -> None:
        self._thread.start()

        async def listen() -> asyncio.Server:
            return await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)

        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> SilentBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            await self._converse(reader, writer)
            # Silent from here: read whatever comes (so the client's writes never
            # block) until the client hangs up.
            while await reader.read(65536):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass  # the client gave up: its side of the test is over
        finally:
            writer.transport.abort()
            self._handlers.discard(task)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(8)  # the protocol header
        step = self.silent_at
        if step == "connect":
            return
        if step == "trickle":
            for byte in START:
                writer.write(bytes([byte]))
                await asyncio.sleep(1)
            return
        if step == "huge":
            writer.write(struct.pack(">BHL", 1, 0, 1 << 30))
            return
        writer.write(START)
        await _frame(reader)  # Connection.StartOk
        if step == "login":
            return
        writer.write(_method(0, pika.spec.Connection.Tune(2047, 131072, 0)))
        await _frame(reader)  # Connection.TuneOk
        await _frame(reader)  # Connection.Open
        if step == "open":
            return
        writer.write(_method(0, pika.spec.Connection.OpenOk()))
        channel = await _frame(reader)  # Channel.Open
        if step == "channel":
            return
        writer.write(_method(channel.channel_number, pika.spec.Channel.OpenOk()))
        declare = await _frame(reader)
        assert isinstance(declare.method, pika.spec.Queue.Declare)
        self.declares += 1


async def _frame(reader: asyncio.StreamReader) -> Any:
    head = await reader.readexactly(7)
    rest = await reader.readexactly(struct.unpack(">L", head[3:])[0] + 1)
    return pika.frame.decode_frame(head + rest)[1]
