"""A TCP proxy a test can cut: stand-in for a broker, a management API or a
database going away, without touching the machine's shared servers.

    with TcpProxy(("127.0.0.1", 5672)) as proxy:   # or a unix socket path
        url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"
        proxy.cut()        # live connections dropped, new ones closed at once
        proxy.hang()       # nothing flows either way (a server that stopped answering)
        proxy.answer(500)  # an HTTP server answering every request with 500
        proxy.restore()    # back to passing bytes through

Runs its own asyncio loop on a thread; nothing here depends on pytest.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Literal

Mode = Literal["pass", "cut", "hang", "answer"]
Target = tuple[str, int] | str  # (host, port) or a unix socket path


class TcpProxy:
    def __init__(self, target: Target, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target, self.host, self._port = target, host, port
        self.mode: Mode = "pass"
        self.status = 500
        self.connections = 0  # accepted so far
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._live: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    # -- controls (any thread) -------------------------------------------------------

    def cut(self) -> None:
        self._switch("cut")

    def hang(self) -> None:
        self._switch("hang")

    def answer(self, status: int = 500) -> None:
        self.status = status
        self._switch("answer")

    def restore(self) -> None:
        self._switch("pass")

    def _switch(self, mode: Mode) -> None:
        async def switch() -> None:
            self.mode = mode
            assert self._flowing is not None
            if mode == "hang":
                self._flowing.clear()
            else:
                self._flowing.set()
            if mode in ("cut", "answer"):
                for writer in list(self._live):
                    writer.transport.abort()
                self._live.clear()

        asyncio.run_coroutine_threadsafe(switch(), self._loop).result(timeout=10)

    # -- life ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

        async def listen() -> asyncio.Server:
            self._flowing = asyncio.Event()
            self._flowing.set()
            return await asyncio.start_server(self._accept, self.host, self._port)

        self._server = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._live):
                writer.transport.abort()
            self._live.clear()
            assert self._flowing is not None
            self._flowing.set()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop's side ---------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        mode = self.mode
        if mode == "cut":
            writer.transport.abort()
            return
        if mode == "answer":
            await self._answer(reader, writer)
            return
        self._live.add(writer)
        try:
            assert self._flowing is not None
            await self._flowing.wait()  # a hung server accepts, then says nothing
            if self.mode != "pass":
                return
            if isinstance(self.target, str):
                up_reader, up_writer = await asyncio.open_unix_connection(self.target)
            else:
                up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            self._live.discard(writer)
            return
        self._live.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            self._live.discard(w)
            w.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                await self._flowing.wait()
                if writer.transport.is_closing():
                    break
                writer.write(data)
                await writer.drain()
        writer.transport.abort()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Reply to each HTTP request with `status` and close (bodies are not read)."""
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await reader.readuntil(b"\r\n\r\n")
            body = b'{"error":"injected","reason":"the test said so"}'
            writer.write(
                f"HTTP/1.1 {self.status} Injected\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.transport.abort()
