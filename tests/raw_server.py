"""A raw asyncio HTTP/1.1 server for tests of the worker's transport
(guvscale.httpclient.Transport): it sends whatever bytes a script gives, so a
test can send framings, closes, hangs and malformed answers that a real server
(tests/live_server.py's uvicorn) never would. tests/test_httpclient.py and
tests/test_http11.py use it."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Script = Callable[[bytes, int], bytes | None]  # (request head + body, request number) -> answer
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serve(handler: Handler, *, ssl: _ssl.SSLContext | None = None) -> AsyncIterator[int]:
    """Serves `handler` on 127.0.0.1, over TLS with `ssl`; yields the port."""
    # Port 0: the listener holds its port from the start, so no other test can take it.
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl)
    async with server:
        yield int(server.sockets[0].getsockname()[1])


def ok(body: bytes = b'{"ok":1}', extra: bytes = b"") -> bytes:
    """A 200 answer framed by its length; `extra` is more header lines, each with its CRLF."""
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class RawServer:
    """Answers each request with `script(request, n)`, n counting from 1 across
    connections. None closes the connection, as does every answer with
    `close_after`; b"" answers nothing, so the client waits as on a hung server."""

    def __init__(self, script: Script, *, close_after: bool = False) -> None:
        self.script, self.close_after = script, close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                answer = self.script(request, len(self.requests))
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection: its side of the test is over
        finally:
            writer.close()

    async def drop_idle(self) -> None:
        """Closes every connection, as a server does to keep-alive ones it times out."""
        for w in self.writers:
            w.close()
        self.writers.clear()
        await asyncio.sleep(0.05)  # the FIN reaches the client's socket
