"""The worker's httpx client, on an HTTP/1.1 transport of our own over asyncio streams.

httpx's own transport (httpcore over anyio, parsing with h11) cost the
worker about a quarter of its CPU (py-spy, bench/worker.py): locks, cancel
scopes and an event-driven parser per request, and a pool that reassigned
its connections twice per request, scanning all of them each time (checking
each for a server-side close, counting them once per idle one). The worker
sends small GETs and PATCHes and reads small JSON answers, so this
transport does only that, plainly:

- a keep-alive pool per origin (scheme, host, port, TLS name), at most
  `max_connections` requests at once; an idle connection is dropped after
  `keepalive_expiry` seconds, or when the server closed it (EOF waiting).
  The worker keeps them past its longest poll, so a tenant's next poll skips
  the TCP and TLS handshakes; a server may close one just as a request goes
  out, so an idempotent request that got no byte back on a reused connection
  is sent once more on a new one (as urllib3 and httpcore do);
- TLS through the given context, with httpx's `sni_hostname` extension (the
  management client connects to an address it checked, under the host's name);
- httpx's timeouts: `pool` to wait for a slot, `connect`, `write` for the
  request, `read` for the whole answer (not per read: a server that trickles
  bytes cannot hold a tenant beyond it);
- answers bounded: a head of at most 64 KiB, a body of at most `max_body`
  bytes (less for a request whose `max_body` extension says so); anything
  malformed is httpx's RemoteProtocolError, never a hang;
- no content coding: requests ask for identity and an encoded answer is
  refused, because httpx would decode it whole after `max_body` was checked
  on the compressed bytes (a 255 KiB gzip answer decodes to 256 MiB);
- httpx's exceptions (ConnectError, ReadTimeout, ...), so callers and their
  error handling stay as they were.

The body is read whole before the answer is returned; redirects, auth and
cookies stay httpx's. No proxies: the worker talks to brokers and Heroku
directly.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import NamedTuple

import httpx

HEAD_LIMIT = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
_NO_BODY = {204, 304}
# Sent again after a reused connection gave no answer (RFC 9110, 9.2.2).
_IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}


class _NoAnswer(Exception):
    """The connection failed before a byte of the answer came: `error` is what
    to raise unless the request may be sent again."""

    def __init__(self, error: httpx.TransportError) -> None:
        self.error = error


def async_client(
    *,
    timeout: float,
    max_connections: int,
    keepalive_expiry: float = 5.0,
    verify: ssl.SSLContext | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient like `httpx.AsyncClient(timeout=, limits=)`, on the transport
    below; `verify` replaces the system's trusted certificates (tests)."""
    transport = Transport(
        ssl_context=verify or httpx.create_ssl_context(),
        max_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
    )
    return httpx.AsyncClient(timeout=timeout, transport=transport)


class _Origin(NamedTuple):
    scheme: str
    host: str
    port: int
    sni: str | None


class _Connection:
    __slots__ = ("answered", "idle_until", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_until = 0.0
        self.answered = False  # a byte of the current request's answer came

    def usable(self, now: float) -> bool:
        # A server that closed an idle connection left EOF (or bytes) in the reader.
        return (
            now < self.idle_until
            and not self.writer.is_closing()
            and not self.reader.at_eof()
            # Bytes nobody asked for make the connection's state unknown.
            and not getattr(self.reader, "_buffer", b"")
        )

    def close(self) -> None:
        self.writer.close()


class Transport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        keepalive_expiry: float = 5.0,
        max_body: int = MAX_BODY,
    ) -> None:
        self._ssl = ssl_context
        self._slots = asyncio.Semaphore(max_connections)
        self._keep = max_connections
        self._expiry = keepalive_expiry
        self._max_body = max_body
        self._idle: dict[_Origin, deque[_Connection]] = {}
        self._idle_count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported scheme {url.scheme!r}", request=request)
        origin = _Origin(
            url.scheme,
            # The ASCII form: an internationalised name goes out as httpx encoded it (IDNA 2008).
            url.raw_host.decode("ascii"),
            url.port or (443 if url.scheme == "https" else 80),
            request.extensions.get("sni_hostname"),
        )
        limit = min(self._max_body, request.extensions.get("max_body", self._max_body))
        # Whatever the client's defaults: see "no content coding" above.
        request.headers["Accept-Encoding"] = "identity"
        body = await request.aread()
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection free in time", request=request) from None
        try:
            reused = self._take(origin)
            connection = reused or await self._connect(origin, request, timeouts)
            while True:
                try:
                    answer = await self._exchange(connection, request, body, timeouts, limit)
                    break
                except _NoAnswer as failed:
                    connection.close()
                    if reused is None or request.method not in _IDEMPOTENT:
                        raise failed.error from None
                    # The server closed the idle connection as we sent: once
                    # more, on a new one.
                    reused = None
                    connection = await self._connect(origin, request, timeouts)
                except BaseException:
                    connection.close()
                    raise
            status, headers, content, reusable = answer
            if reusable:
                self._put(origin, connection)
            else:
                connection.close()
        finally:
            self._slots.release()
        return httpx.Response(
            status,
            headers=headers,
            stream=httpx.ByteStream(content),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        for queue in self._idle.values():
            for connection in queue:
                connection.close()
        self._idle.clear()
        self._idle_count = 0

    # -- the pool -------------------------------------------------------------

    def _take(self, origin: _Origin) -> _Connection | None:
        queue = self._idle.get(origin)
        now = time.monotonic()
        while queue:
            connection = queue.pop()  # the most recently used: least likely closed
            self._idle_count -= 1
            if connection.usable(now):
                return connection
            connection.close()
        return None

    def _put(self, origin: _Origin, connection: _Connection) -> None:
        connection.idle_until = time.monotonic() + self._expiry
        self._idle.setdefault(origin, deque()).append(connection)
        self._idle_count += 1
        if self._idle_count > self._keep:
            self._sweep()

    def _sweep(self) -> None:
        """Close expired idle connections, then the oldest beyond the limit."""
        now = time.monotonic()
        for origin in list(self._idle):
            queue = self._idle[origin]
            while queue and not queue[0].usable(now):
                queue.popleft().close()
                self._idle_count -= 1
            if not queue:
                del self._idle[origin]
        while self._idle_count > self._keep:
            origin = min(self._idle, key=lambda o: self._idle[o][0].idle_until)
            self._idle[origin].popleft().close()
            self._idle_count -= 1
            if not self._idle[origin]:
                del self._idle[origin]

    async def _connect(
        self, origin: _Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Connection:
        tls = origin.scheme == "https"
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                reader, writer = await asyncio.open_connection(
                    origin.host,
                    origin.port,
                    ssl=self._ssl if tls else None,
                    server_hostname=(origin.sni or origin.host) if tls else None,
                    limit=HEAD_LIMIT,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout("connect timed out", request=request) from None
        except (OSError, ssl.SSLError) as exc:  # SSLError is an OSError; named for the reader
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from None
        return _Connection(reader, writer)

    # -- one request and its answer -------------------------------------------

    async def _exchange(
        self,
        connection: _Connection,
        request: httpx.Request,
        body: bytes,
        timeouts: dict[str, float | None],
        limit: int,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
        lines += [b"%s: %s" % (name, value) for name, value in request.headers.raw]
        if "transfer-encoding" in request.headers:  # a streamed body, read whole above
            body = (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
        try:
            async with asyncio.timeout(timeouts.get("write")):
                connection.writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
                await connection.writer.drain()
        except TimeoutError:
            raise httpx.WriteTimeout("write timed out", request=request) from None
        except OSError as exc:
            unsent = httpx.WriteError(str(exc) or type(exc).__name__, request=request)
            raise _NoAnswer(unsent) from None
        try:
            async with asyncio.timeout(timeouts.get("read")):
                return await self._answer(connection, request, limit)
        except TimeoutError:
            raise httpx.ReadTimeout("read timed out", request=request) from None
        except asyncio.IncompleteReadError as exc:
            closed = httpx.RemoteProtocolError(
                "server disconnected before the answer ended", request=request
            )
            if not exc.partial and not connection.answered:
                raise _NoAnswer(closed) from None
            raise closed from None
        except (asyncio.LimitOverrunError, ValueError) as exc:
            # LimitOverrunError: a head over the limit; ValueError: a line past it.
            raise httpx.RemoteProtocolError(f"malformed answer: {exc}", request=request) from None
        except OSError as exc:
            unread = httpx.ReadError(str(exc) or type(exc).__name__, request=request)
            if not connection.answered and not getattr(connection.reader, "_buffer", b""):
                raise _NoAnswer(unread) from None
            raise unread from None

    async def _answer(
        self, connection: _Connection, request: httpx.Request, limit: int
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        reader = connection.reader
        connection.answered = False
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            connection.answered = True
            version, status, headers = _head(head, request)
            if not 100 <= status < 200:
                break  # 1xx answers (103 Early Hints) precede the real one
        # Repeated fields join as one list; _length refuses lengths that differ.
        fields: dict[bytes, bytes] = {}
        for name, value in headers:
            key = name.lower()
            fields[key] = value if key not in fields else fields[key] + b", " + value
        close = b"close" in fields.get(b"connection", b"").lower() or version == b"HTTP/1.0"
        close = close or b"close" in request.headers.get("connection", "").lower().encode()
        if request.method == "HEAD" or status in _NO_BODY:
            return status, headers, b"", not close
        if fields.get(b"content-encoding", b"identity").strip().lower() not in (b"identity", b""):
            raise httpx.RemoteProtocolError(
                "answer in a Content-Encoding not asked for", request=request
            )
        coding = fields.get(b"transfer-encoding", b"").lower()
        if coding:
            if coding.rsplit(b",", 1)[-1].strip() != b"chunked":
                raise httpx.RemoteProtocolError("unsupported Transfer-Encoding", request=request)
            return status, headers, await self._chunked(reader, request, limit), not close
        length = fields.get(b"content-length")
        if length is not None:
            size = _length(length, request)
            if size > limit:
                raise httpx.RemoteProtocolError("answer too large", request=request)
            return status, headers, await reader.readexactly(size), not close
        # Neither: the body runs to the end of the connection.
        content = b""
        while len(content) <= limit and (more := await reader.read(limit + 1 - len(content))):
            content += more
        if len(content) > limit:
            raise httpx.RemoteProtocolError("answer too large", request=request)
        return status, headers, content, False

    async def _chunked(
        self, reader: asyncio.StreamReader, request: httpx.Request, limit: int
    ) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)  # ValueError: malformed
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers, ignored
                return b"".join(parts)
            total += size
            if size < 0 or total > limit:
                raise httpx.RemoteProtocolError("answer too large", request=request)
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise httpx.RemoteProtocolError("malformed chunk", request=request)


def _head(head: bytes, request: httpx.Request) -> tuple[bytes, int, list[tuple[bytes, bytes]]]:
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or not parts[1].isdigit():
        raise httpx.RemoteProtocolError("not an HTTP/1.1 status line", request=request)
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise httpx.RemoteProtocolError("malformed header line", request=request)
        headers.append((name, value.strip()))
    return parts[0], int(parts[1]), headers


def _length(value: bytes, request: httpx.Request) -> int:
    # A list of equal lengths ("5, 5") is one length (RFC 9110, 8.6).
    values = {v.strip() for v in value.split(b",")}
    if len(values) != 1 or not next(iter(values)).isdigit():
        raise httpx.RemoteProtocolError("malformed Content-Length", request=request)
    return int(values.pop())
