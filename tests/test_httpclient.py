"""The worker's httpx client (guvscale.httpclient) against a real local server
(tests/raw_server.py): plain and TLS, a keep-alive connection the server
closed (before or as a request went out), the keep-alive expiry (and that
the worker's wiring passes HTTP_KEEPALIVE on), timeouts and refusals."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from guvscale.httpclient import async_client
from guvscale.worker.run import Worker
from tests.live_server import free_port
from tests.raw_server import RawServer, ok, self_signed, serve

# Content-type and body as an API's; the tests look only at the status.
ANSWER = ok(b'{"ok": true}', extra=b"content-type: application/json\r\n")


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
    cert, key = self_signed(tmp_path)
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


Opener = Callable[[], AbstractAsyncContextManager[httpx.AsyncClient]]


def _two_requests(
    method: str, script: Callable[[bytes, int], bytes | None], opener: Opener
) -> tuple[list[int | type[Exception]], RawServer]:
    """Two requests on one client, a pause between (as between two polls)."""

    async def go() -> list[int | type[Exception]]:
        async with serve(server.handle) as port, opener() as client:
            outcomes: list[int | type[Exception]] = []
            for _ in range(2):
                try:
                    answer = await client.request(method, f"http://127.0.0.1:{port}/x")
                    outcomes.append(answer.status_code)
                except httpx.HTTPError as exc:
                    outcomes.append(type(exc))
                await asyncio.sleep(0.3)
            return outcomes

    server = RawServer(script)
    return asyncio.run(go()), server


def keeping(expiry: float) -> Opener:
    return lambda: async_client(timeout=2, max_connections=4, keepalive_expiry=expiry)


# A server that times out an idle connection just as our next request goes
# out reads it and closes without a byte back: the idle check cannot see it.
def closes_the_second(request: bytes, n: int) -> bytes | None:
    return None if n == 2 else ANSWER


def test_an_idempotent_request_a_reused_connection_left_unanswered_is_sent_again() -> None:
    outcomes, server = _two_requests("GET", closes_the_second, keeping(5.0))
    assert outcomes == [200, 200]
    assert (server.connections, len(server.requests)) == (2, 3)


def test_a_patch_is_not_sent_twice_nor_a_request_on_a_new_connection() -> None:
    # A PATCH may have been acted on before the close: it is the caller's to retry.
    outcomes, server = _two_requests("PATCH", closes_the_second, keeping(5.0))
    assert outcomes == [200, httpx.RemoteProtocolError]
    assert len(server.requests) == 2
    # A new connection that answers nothing is the server's fault, not a stale one.
    outcomes, server = _two_requests("GET", lambda request, n: None, keeping(5.0))
    assert outcomes == [httpx.RemoteProtocolError, httpx.RemoteProtocolError]
    assert (server.connections, len(server.requests)) == (2, 2)


@pytest.mark.parametrize("expiry, connections", [(0.1, 2), (5.0, 1)])
def test_an_idle_connection_is_kept_for_the_keepalive_expiry(
    expiry: float, connections: int
) -> None:
    outcomes, server = _two_requests("GET", lambda request, n: ANSWER, keeping(expiry))
    assert outcomes == [200, 200]
    assert server.connections == connections


@pytest.mark.parametrize("keepalive, connections", [(0.1, 2), (5.0, 1)])
def test_the_worker_keeps_idle_connections_for_http_keepalive(
    make_worker: Callable[..., AbstractAsyncContextManager[Worker]],
    keepalive: float,
    connections: int,
) -> None:
    # The setting must reach the client wiring.worker builds, not only async_client.
    @asynccontextmanager
    async def workers_client() -> AsyncIterator[httpx.AsyncClient]:
        async with make_worker(http_keepalive=keepalive) as worker:
            yield worker.ctx.http

    outcomes, server = _two_requests("GET", lambda request, n: ANSWER, workers_client)
    assert outcomes == [200, 200]
    assert server.connections == connections
