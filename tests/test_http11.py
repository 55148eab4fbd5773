"""The worker transport's HTTP/1.1 (guvscale.httpclient.Transport) against a raw
local server (tests/raw_server.py) that sends scripted answers: bodies by
length, chunks and end of connection, keep-alive and close, 1xx, content
coding refused, request bodies, limits and malformed answers. tests/test_httpclient.py has TLS,
timeouts and a connection the server closed."""

from __future__ import annotations

import asyncio
import gzip

import httpx
import pytest

from guvscale.httpclient import Transport
from tests.raw_server import RawServer, Script, ok, serve


def _client(**kw: object) -> httpx.AsyncClient:
    transport = Transport(ssl_context=httpx.create_ssl_context(), max_connections=4, **kw)  # type: ignore[arg-type]
    return httpx.AsyncClient(timeout=2, transport=transport)


def _run(
    script: Script, requests: int = 1, close_after: bool = False, **kw: object
) -> tuple[list[httpx.Response | Exception], RawServer]:
    raw = RawServer(script, close_after=close_after)

    async def go() -> list[httpx.Response | Exception]:
        answers: list[httpx.Response | Exception] = []
        async with serve(raw.handle) as port, _client(**kw) as client:
            for _ in range(requests):
                try:
                    answers.append(
                        await client.patch(
                            f"http://127.0.0.1:{port}/apps/a/formation?x=1", json={"q": 1}
                        )
                    )
                except httpx.HTTPError as exc:
                    answers.append(exc)
                await asyncio.sleep(0.02)  # a close reaches the client before the next request
        return answers

    return asyncio.run(go()), raw


def test_a_request_goes_out_whole_and_keep_alive_reuses_the_connection() -> None:
    answers, raw = _run(lambda req, n: ok(), requests=3)
    assert [a.json() for a in answers if isinstance(a, httpx.Response)] == [{"ok": 1}] * 3
    assert raw.connections == 1
    first = raw.requests[0]
    assert first.startswith(b"PATCH /apps/a/formation?x=1 HTTP/1.1\r\n")
    assert b"\r\nhost: 127.0.0.1:" in first.lower() and first.endswith(b'{"q":1}')


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b'4\r\n{"a"\r\n3;x=y\r\n:1}\r\n0\r\nt: 1\r\n\r\n',
            b'{"a":1}',
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", b"{}"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\n[]", b"[]"),
        (b"HTTP/1.1 200 OK\r\ncontent-encoding: identity\r\ncontent-length: 2\r\n\r\n{}", b"{}"),
    ],
    ids=["chunked", "1xx first", "no content", "repeated length", "identity"],
)
def test_bodies_are_read_by_their_framing(answer: bytes, body: bytes) -> None:
    answers, raw = _run(lambda req, n: answer, requests=2)
    assert all(isinstance(a, httpx.Response) and a.content == body for a in answers), answers
    assert raw.connections == 1  # each framing leaves the connection reusable


def test_a_close_or_an_unframed_body_opens_a_new_connection_next_time() -> None:
    closing = ok(extra=b"connection: close\r\n")
    answers, raw = _run(lambda req, n: closing if n == 1 else ok(), requests=2)
    assert [a.status_code for a in answers if isinstance(a, httpx.Response)] == [200, 200]
    assert raw.connections == 2

    def unframed(req: bytes, n: int) -> bytes | None:
        return b'HTTP/1.1 200 OK\r\n\r\n{"eof":1}' if n == 1 else None

    answers, raw = _run(unframed, close_after=True)
    assert isinstance(answers[0], httpx.Response) and answers[0].json() == {"eof": 1}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SMTP ready\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", httpx.RemoteProtocolError),
        (
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}",
            httpx.RemoteProtocolError,
        ),
        (b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{}", httpx.RemoteProtocolError),
        (b"HTTP/1.1 200 OK\r\nx: " + b"y" * 70_000 + b"\r\n\r\n", httpx.RemoteProtocolError),
        (ok(b"x" * 2000), httpx.RemoteProtocolError),  # over max_body below
    ],
    ids=[
        "not http",
        "bad header",
        "two lengths",
        "negative",
        "bad chunk",
        "unknown coding",
        "cut short",
        "huge head",
        "huge body",
    ],
)
def test_malformed_or_oversized_answers_are_protocol_errors(answer: bytes, error: type) -> None:
    answers, _ = _run(lambda req, n: answer, close_after=True, max_body=1000)
    assert isinstance(answers[0], error), answers[0]


def _gzip_answer(decoded: bytes) -> bytes:
    packed = gzip.compress(decoded)
    return ok(packed, extra=b"content-encoding: gzip\r\n")


def test_a_compressed_answer_is_refused_so_max_body_bounds_what_is_decoded() -> None:
    # 2,000 bytes decoded, a few dozen sent: the cap must see the 2,000.
    answers, raw = _run(lambda req, n: _gzip_answer(b"[" + b"0," * 999 + b"0]"), max_body=1000)
    assert isinstance(answers[0], httpx.RemoteProtocolError), answers[0]
    assert "content-encoding" in str(answers[0]).lower()
    # httpx's default asks for gzip; the transport asks for identity instead.
    head = raw.requests[0].lower()
    assert b"\r\naccept-encoding: identity\r\n" in head
    assert b"gzip" not in head


@pytest.mark.parametrize(
    ("transport_limit", "request_limit", "refused"),
    [(3000, None, False), (3000, 1000, True), (1000, 10_000, True)],
    ids=["transport's", "lowered", "not raised"],
)
def test_a_request_may_lower_the_body_limit_but_not_raise_it(
    transport_limit: int, request_limit: int | None, refused: bool
) -> None:
    extensions = {} if request_limit is None else {"max_body": request_limit}

    async def go() -> httpx.Response | Exception:
        raw = RawServer(lambda req, n: ok(b"x" * 2000), close_after=True)
        async with serve(raw.handle) as port, _client(max_body=transport_limit) as client:
            try:
                return await client.get(f"http://127.0.0.1:{port}/", extensions=extensions)
            except httpx.HTTPError as exc:
                return exc

    answer = asyncio.run(go())
    if refused:
        assert isinstance(answer, httpx.RemoteProtocolError), answer
    else:
        assert isinstance(answer, httpx.Response) and len(answer.content) == 2000, answer


def test_a_trickling_answer_is_cut_at_the_read_timeout_and_slots_are_bounded() -> None:
    async def go() -> tuple[type, type, float]:
        async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n")
            for _ in range(100):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.1)
            writer.close()

        transport = Transport(ssl_context=httpx.create_ssl_context(), max_connections=1)
        timeout = httpx.Timeout(0.5, pool=0.2)
        async with (
            serve(trickle) as port,
            httpx.AsyncClient(timeout=timeout, transport=transport) as client,
        ):
            began = asyncio.get_running_loop().time()
            first, second = await asyncio.gather(
                client.get(f"http://127.0.0.1:{port}/"),
                client.get(f"http://127.0.0.1:{port}/"),
                return_exceptions=True,
            )
            took = asyncio.get_running_loop().time() - began
        return type(first), type(second), took

    first, second, took = asyncio.run(go())
    # Bytes keep coming every 0.1 s, yet the whole answer is held to 0.5 s;
    # with one slot, the second request waits for it no longer than the pool timeout.
    assert (first, second) == (httpx.ReadTimeout, httpx.PoolTimeout)
    assert took < 1.5
