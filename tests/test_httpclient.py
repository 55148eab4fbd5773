"""The worker's httpx client (guvscale.httpclient) against a real local server
(tests/raw_server.py): plain and TLS, a keep-alive connection the server
closed, timeouts and refusals."""

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
from tests.raw_server import RawServer, ok, serve

# Content-type and body as an API's; the tests look only at the status.
ANSWER = ok(b'{"ok": true}', extra=b"content-type: application/json\r\n")


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
        server = RawServer(lambda request, n: ANSWER)
        async with (
            serve(server.handle) as port,
            async_client(timeout=5, max_connections=4) as client,
        ):
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
        server = RawServer(lambda request, n: ANSWER)
        async with serve(server.handle, ssl=served) as port:
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
        server = RawServer(lambda request, n: b"")  # reads each request, answers none
        async with (
            serve(server.handle) as port,
            async_client(timeout=0.3, max_connections=4) as client,
        ):
            with pytest.raises(httpx.HTTPError) as hung:
                await client.get(f"http://127.0.0.1:{port}/")
            with pytest.raises(httpx.HTTPError) as closed:
                await client.get(f"http://127.0.0.1:{free_port()}/")
            return hung.type, closed.type

    assert asyncio.run(go()) == (httpx.ReadTimeout, httpx.ConnectError)
