"""A raw asyncio HTTP/1.1 server for tests of the worker's transport
(guvscale.httpclient.Transport): it sends whatever bytes a script gives, so a
test can send framings, closes, hangs and malformed answers that a real server
(tests/live_server.py's uvicorn) never would. tests/test_httpclient.py and
tests/test_http11.py use it."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl as _ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and its key, as PEM files in `folder`: (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
