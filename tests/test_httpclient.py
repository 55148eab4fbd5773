"""The worker's httpx client (guvscale.httpclient) against a real local server:
plain and TLS, a keep-alive connection the server closed, timeouts and refusals."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from guvscale.httpclient import async_client
from tests.live_server import free_port


class Server:
    """HTTP/1.1 on 127.0.0.1 that counts connections and can drop idle ones."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                if self.hang:
                    await reader.read()  # until the client gives up and closes
                    return
                body = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def drop_idle(self) -> None:
        for w in self.writers:
            w.close()
        self.writers.clear()
        await asyncio.sleep(0.05)  # the FIN reaches the client's socket


def _certificate(folder: Path) -> tuple[Path, Path]:
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


def test_keep_alive_is_reused_and_a_connection_the_server_closed_is_replaced() -> None:
    async def go() -> tuple[list[int], tuple[int, int]]:
        server = Server()
        port = free_port()
        listening = await asyncio.start_server(server.handle, "127.0.0.1", port)
        async with listening, async_client(timeout=5, max_connections=4) as client:
            url = f"http://127.0.0.1:{port}/api/queues/v"
            statuses = [(await client.get(url)).status_code for _ in range(3)]
            reused = server.connections
            await server.drop_idle()
            # Without the idle check this request would go out on the dead
            # connection and fail with a RemoteProtocolError.
            statuses.append((await client.get(url)).status_code)
            return statuses, (reused, server.connections)

    statuses, connections = asyncio.run(go())
    assert statuses == [200, 200, 200, 200]
    assert connections == (1, 2)  # one connection for three requests, then a new one


def test_tls_requests_verify_against_the_given_context(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    trusted = ssl.create_default_context(cafile=str(cert))

    async def go() -> tuple[int, int, str]:
        server = Server()
        port = free_port()
        listening = await asyncio.start_server(server.handle, "127.0.0.1", port, ssl=served)
        async with listening:
            url = f"https://localhost:{port}/api/queues/v"
            async with async_client(timeout=5, max_connections=4, verify=trusted) as client:
                first = (await client.get(url)).status_code
                await server.drop_idle()
                second = (await client.get(url)).status_code
            async with async_client(timeout=5, max_connections=4) as untrusting:
                with pytest.raises(httpx.ConnectError) as refused:
                    await untrusting.get(url)
            return first, second, str(refused.value)

    first, second, refused = asyncio.run(go())
    assert (first, second) == (200, 200)
    assert "CERTIFICATE_VERIFY_FAILED" in refused


def test_a_hanging_server_times_out_and_a_closed_port_is_refused() -> None:
    async def go() -> tuple[type[Exception], type[Exception]]:
        server = Server(hang=True)
        port = free_port()
        listening = await asyncio.start_server(server.handle, "127.0.0.1", port)
        async with listening, async_client(timeout=0.3, max_connections=4) as client:
            with pytest.raises(httpx.HTTPError) as hung:
                await client.get(f"http://127.0.0.1:{port}/")
            with pytest.raises(httpx.HTTPError) as closed:
                await client.get(f"http://127.0.0.1:{free_port()}/")
            return hung.type, closed.type

    assert asyncio.run(go()) == (httpx.ReadTimeout, httpx.ConnectError)
