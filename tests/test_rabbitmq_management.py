"""ManagementClient against mocked HTTP: what it asks, what it reads, how it fails."""

from __future__ import annotations

import asyncio
import base64
import gzip
import logging
import socket
from collections.abc import Awaitable, Iterator
from typing import Any, TypeVar

import httpx
import orjson
import pytest
import respx

from guvscale.httpclient import async_client
from guvscale.rabbitmq import (
    BrokerAuthFailed,
    BrokerError,
    BrokerRefused,
    BrokerUnreachable,
    ManagementClient,
    QueueMissing,
    QueueStats,
    VhostMissing,
)
from guvscale.rabbitmq.management import COUNT_MAX, LIST_MAX_BYTES, QUEUE_MAX_BYTES
from tests.raw_server import RawServer, serve

PASSWORD = "pw-9d8c7b6a5f"
BASE = "https://rabbit.example"
URL = f"https://user:{PASSWORD}@rabbit.example"
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def wrapped() -> T:
        return await coro

    return asyncio.run(wrapped())


def queue_body(name: str = "jobs", **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": name,
        "messages_ready": 12,
        "messages_unacknowledged": 3,
        "consumers": 2,
        "message_stats": {
            "publish": 1500,
            "publish_details": {"rate": 4.5},
            "ack": 1480,
            "ack_details": {"rate": 4.0},
        },
    }
    body.update(extra)
    return body


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def client(url: str = URL, timeout: float = 2.0) -> tuple[httpx.AsyncClient, ManagementClient]:
    http = httpx.AsyncClient()
    return http, ManagementClient(http, url, timeout=timeout)


def list_queues(url: str = URL, vhost: str = "/") -> dict[str, QueueStats]:
    async def go() -> dict[str, QueueStats]:
        http, mc = client(url)
        async with http:
            return await mc.queues(vhost)

    return asyncio.run(go())


def read_error(mock: respx.MockRouter, response: httpx.Response | Exception) -> BrokerError:
    mock.get(f"{BASE}/api/queues/vh").mock(
        side_effect=response if isinstance(response, Exception) else None,
        return_value=None if isinstance(response, Exception) else response,
    )
    with pytest.raises(BrokerError) as caught:
        list_queues(vhost="vh")
    return caught.value


def test_one_get_lists_every_queue_of_the_vhost(mock: respx.MockRouter) -> None:
    route = mock.get(f"{BASE}/api/queues/%2F").respond(
        200, json=[queue_body("jobs"), queue_body("mail", messages_ready=0)]
    )
    found = list_queues()
    assert route.call_count == 1
    request = route.calls[0].request
    assert request.url.raw_path.startswith(b"/api/queues/%2F?")
    assert "message_stats.publish" in request.url.params["columns"].split(",")
    expected_auth = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert PASSWORD not in str(request.url)
    assert found["jobs"] == QueueStats("jobs", 12, 3, 2, 1500, 1480, 4.5, 4.0)
    assert found["mail"].ready == 0
    assert set(found) == {"jobs", "mail"}


def test_a_queue_without_stats_yet_is_partial_and_its_counters_unknown(
    mock: respx.MockRouter,
) -> None:
    mock.get(f"{BASE}/api/queues/vh").respond(200, json=[{"name": "fresh"}])
    stats = list_queues(vhost="vh")["fresh"]
    assert stats == QueueStats("fresh", 0, 0, 0, None, None, None, None, partial=True)


def test_the_vhost_and_queue_names_are_url_encoded(mock: respx.MockRouter) -> None:
    route = mock.get(f"{BASE}/api/queues/a%2Fb/my%20q%2Fx").respond(200, json=queue_body("my q/x"))

    async def go() -> QueueStats:
        http, mc = client()
        async with http:
            return await mc.queue("a/b", "my q/x")

    assert run(go()).name == "my q/x"
    assert route.called


def test_a_missing_queue_is_queue_missing(mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/api/queues/vh/gone").respond(404, json={"error": "Object Not Found"})

    async def go() -> QueueStats:
        http, mc = client()
        async with http:
            return await mc.queue("vh", "gone")

    with pytest.raises(QueueMissing, match="gone"):
        run(go())


def test_a_missing_vhost_is_vhost_missing(mock: respx.MockRouter) -> None:
    assert isinstance(read_error(mock, httpx.Response(404, json={})), VhostMissing)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_auth_failed(mock: respx.MockRouter, status: int) -> None:
    error = read_error(mock, httpx.Response(status, json={"error": "not_authorised"}))
    assert isinstance(error, BrokerAuthFailed)
    assert PASSWORD not in str(error)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(503, text="busy"),
        httpx.Response(200, text="<html>login</html>"),
        httpx.Response(200, json={"not": "a list"}),
        httpx.ConnectError(f"cannot connect to user:{PASSWORD}@rabbit.example"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_outages_and_nonsense_are_unreachable_without_the_password(
    mock: respx.MockRouter, failure: httpx.Response | Exception
) -> None:
    error = read_error(mock, failure)
    assert isinstance(error, BrokerUnreachable)
    assert PASSWORD not in str(error)
    assert "rabbit.example" in str(error)


def test_a_one_letter_password_is_hidden_without_mangling_the_message(
    mock: respx.MockRouter,
) -> None:
    # Scrubbed by guvscale.redact.scrub: once `a` was replaced in every word.
    mock.get(f"{BASE}/api/queues/vh").mock(
        side_effect=httpx.ConnectError("user:a@rabbit.example: a name that cannot be resolved")
    )

    async def go() -> None:
        http, mc = client("https://user:a@rabbit.example")
        async with http:
            await mc.queues("vh")

    with pytest.raises(BrokerUnreachable) as caught:
        run(go())
    assert str(caught.value) == (
        f"{BASE}: ConnectError: user:[redacted]@rabbit.example: a name that cannot be resolved"
    )


def test_a_hanging_broker_is_cut_at_the_timeout() -> None:
    """A real socket that accepts and never answers: our own timeout ends the wait."""

    async def go() -> float:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(10)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        try:
            async with httpx.AsyncClient() as http:
                mc = ManagementClient(http, f"http://u:{PASSWORD}@127.0.0.1:{port}", timeout=0.3)
                started = loop.time()
                with pytest.raises(BrokerUnreachable, match=r"no answer within 0\.3s"):
                    await mc.queues("/")
                return loop.time() - started
        finally:
            server.close()

    assert run(go()) < 2.0


def test_a_redirect_to_another_host_is_not_followed(mock: respx.MockRouter) -> None:
    evil = mock.get("http://169.254.169.254/")
    error = read_error(mock, httpx.Response(302, headers={"Location": "http://169.254.169.254/"}))
    assert isinstance(error, BrokerRefused)
    assert not evil.called


def test_a_downgrade_to_http_on_the_same_host_is_not_followed(mock: respx.MockRouter) -> None:
    error = read_error(
        mock, httpx.Response(301, headers={"Location": "http://rabbit.example/api/queues/vh"})
    )
    assert isinstance(error, BrokerRefused)


def test_a_redirect_on_the_same_host_is_followed(mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/api/queues/vh").respond(301, headers={"Location": "/rabbit/api/queues/vh"})
    target = mock.get(f"{BASE}/rabbit/api/queues/vh").respond(200, json=[queue_body()])
    assert list(list_queues(vhost="vh")) == ["jobs"]
    followed = target.calls[0].request
    assert followed.headers["Authorization"].startswith("Basic ")
    assert "messages_ready" in followed.url.params["columns"].split(",")  # our query, still


def test_a_redirect_loop_ends(mock: respx.MockRouter) -> None:
    error = read_error(mock, httpx.Response(302, headers={"Location": "/api/queues/vh"}))
    assert isinstance(error, BrokerRefused)


def test_a_pasted_api_path_and_a_prefix_are_accepted(mock: respx.MockRouter) -> None:
    route = mock.get(f"{BASE}/prefix/api/queues/vh").respond(200, json=[])
    assert list_queues(f"https://user:{PASSWORD}@rabbit.example/prefix/api/", "vh") == {}
    assert route.called


@pytest.mark.parametrize("url", ["amqp://u:p@host/vh", "ftp://host", "https://", "http://h:x/"])
def test_the_management_url_must_be_http_with_a_host(url: str) -> None:
    with pytest.raises(BrokerRefused):
        ManagementClient(httpx.AsyncClient(), url, timeout=1)


def test_nothing_logged_holds_the_password(
    mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mock.get(f"{BASE}/api/queues/%2F").respond(200, json=[queue_body()])
    list_queues()
    read_error(mock, httpx.ConnectError(f"user:{PASSWORD}@rabbit.example refused"))
    assert caplog.records
    assert PASSWORD not in caplog.text


def resolving(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Make every lookup answer the next address (the last one repeats); returns the log."""
    asked: list[str] = []

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        asked.append(host)
        address = answers[min(len(asked), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def guarded_queues(vhost: str = "vh", *, calls: int = 1) -> list[dict[str, QueueStats] | Exception]:
    async def go() -> list[dict[str, QueueStats] | Exception]:
        results: list[dict[str, QueueStats] | Exception] = []
        async with httpx.AsyncClient() as http:
            mc = ManagementClient(http, URL, timeout=2, allow_private=False)
            for _ in range(calls):
                try:
                    results.append(await mc.queues(vhost))
                except BrokerError as exc:
                    results.append(exc)
        return results

    return asyncio.run(go())


def test_without_private_brokers_it_connects_to_the_address_it_checked(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = resolving(monkeypatch, "93.184.216.34")
    route = mock.get("https://93.184.216.34/api/queues/vh").respond(200, json=[queue_body()])
    assert list(guarded_queues()[0]) == ["jobs"]  # type: ignore[arg-type]
    request = route.calls[0].request
    assert request.headers["Host"] == "rabbit.example"
    assert request.extensions["sni_hostname"] == "rabbit.example"
    assert request.headers["Authorization"].startswith("Basic ")
    assert asked == ["rabbit.example"]


def test_a_host_that_re_resolves_to_a_private_address_is_refused_then(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolving(monkeypatch, "93.184.216.34", "127.0.0.1")
    route = mock.get("https://93.184.216.34/api/queues/vh").respond(200, json=[])
    first, second = guarded_queues(calls=2)
    assert first == {}
    assert isinstance(second, BrokerRefused)
    assert "127.0.0.1" in str(second) and PASSWORD not in str(second)
    assert route.call_count == 1


# Found by the schemathesis run of PUT /config/{id}/credentials: urlsplit takes
# these hosts, httpx cannot send to them, and the error escaped as a 500.
@pytest.mark.parametrize(
    "url", ["http://\x00:15672", "https://u:p@xn--/", "http://256.1.1.1:15672", "https://xn--"]
)
def test_a_host_httpx_cannot_send_to_is_refused_as_input(url: str) -> None:
    with pytest.raises(BrokerRefused, match="not a valid URL"):
        ManagementClient(httpx.AsyncClient(), url, timeout=1)


@pytest.mark.parametrize("location", ["https://xn--/api/queues/vh", "http://256.1.1.1/"])
def test_a_redirect_to_an_invalid_url_is_not_followed(
    mock: respx.MockRouter, location: str
) -> None:
    elsewhere = mock.get(url__regex=r"^http://(256|xn--)")
    error = read_error(mock, httpx.Response(302, headers={"Location": location}))
    assert isinstance(error, BrokerRefused | BrokerUnreachable), error
    assert not elsewhere.called


# A broker's answer is held whole in memory, for every tenant at once: it is
# bounded as decoded, and a compressed one (255 KiB of gzip decoded to 256 MiB)
# is never decoded.
def test_a_compressed_answer_is_refused_without_being_decoded(mock: respx.MockRouter) -> None:
    packed = gzip.compress(b"[" + b" " * (LIST_MAX_BYTES + 1) + b"]")  # 8 KiB, decoding to 8 MiB
    error = read_error(
        mock, httpx.Response(200, content=packed, headers={"Content-Encoding": "gzip"})
    )
    assert isinstance(error, BrokerUnreachable)
    assert "Content-Encoding" in str(error)
    assert mock.calls.last.request.headers["Accept-Encoding"] == "identity"


def test_an_answer_over_the_limit_is_refused_and_one_at_it_is_read(
    mock: respx.MockRouter,
) -> None:
    at_limit = b"[" + b" " * (LIST_MAX_BYTES - 2) + b"]"
    mock.get(f"{BASE}/api/queues/vh").respond(200, content=at_limit)
    assert list_queues(vhost="vh") == {}
    error = read_error(mock, httpx.Response(200, content=at_limit[:-1] + b" ]"))
    assert isinstance(error, BrokerUnreachable)
    assert "larger than 8192 KiB" in str(error)


def test_one_queue_answer_has_a_smaller_limit(mock: respx.MockRouter) -> None:
    padding = " " * QUEUE_MAX_BYTES
    mock.get(f"{BASE}/api/queues/vh/jobs").respond(
        200, content=orjson.dumps(queue_body()) + padding.encode()
    )

    async def go() -> QueueStats:
        http, mc = client()
        async with http:
            return await mc.queue("vh", "jobs")

    with pytest.raises(BrokerUnreachable, match="larger than 256 KiB"):
        run(go())


def test_the_worker_transport_stops_at_the_management_limit() -> None:
    """Over guvscale.httpclient, the limit is the transport's too: an answer
    announcing 10 MiB is refused at its head, not read (or waited for)."""

    async def go() -> BrokerError:
        raw = RawServer(lambda req, n: b"HTTP/1.1 200 OK\r\ncontent-length: 10485760\r\n\r\n")
        async with serve(raw.handle) as port, async_client(timeout=2, max_connections=1) as http:
            mc = ManagementClient(http, f"http://u:{PASSWORD}@127.0.0.1:{port}", timeout=2)
            with pytest.raises(BrokerError) as caught:
                await mc.queue("vh", "jobs")
            return caught.value

    error = run(go())
    assert isinstance(error, BrokerUnreachable)
    assert "answer too large" in str(error)


def read_named(names: list[str], vhost: str = "vh") -> dict[str, QueueStats]:
    async def go() -> dict[str, QueueStats]:
        http, mc = client()
        async with http:
            return await mc.named(vhost, names)

    return run(go())


def test_named_queues_are_read_one_by_one_and_the_vhost_never_listed(
    mock: respx.MockRouter,
) -> None:
    listed = mock.get(f"{BASE}/api/queues/vh")
    jobs = mock.get(f"{BASE}/api/queues/vh/jobs").respond(200, json=queue_body("jobs"))
    mock.get(f"{BASE}/api/queues/vh/gone").respond(404, json={"error": "Object Not Found"})
    vhost = mock.get(f"{BASE}/api/vhosts/vh")
    found = read_named(["jobs", "gone"])
    assert found == {"jobs": QueueStats("jobs", 12, 3, 2, 1500, 1480, 4.5, 4.0)}
    assert "messages_ready" in jobs.calls[0].request.url.params["columns"].split(",")
    assert not listed.called
    assert not vhost.called  # a queue was found, so the vhost is there


def test_named_queues_all_missing_ask_whether_the_vhost_is(mock: respx.MockRouter) -> None:
    mock.get(url__regex=rf"^{BASE}/api/queues/vh/").respond(404, json={"error": "Object Not Found"})
    vhost = mock.get(f"{BASE}/api/vhosts/vh").respond(200, json={"name": "vh"})
    assert read_named(["a", "b"]) == {}
    assert vhost.calls[0].request.url.params["columns"] == "name"
    vhost.respond(404, json={"error": "Object Not Found"})
    with pytest.raises(VhostMissing):
        read_named(["a", "b"])


def test_names_lists_the_vhost_asking_for_names_alone(mock: respx.MockRouter) -> None:
    route = mock.get(f"{BASE}/api/queues/vh").respond(
        200, json=[{"name": "jobs"}, {"name": "mail"}, {"nameless": 1}, "junk"]
    )

    async def go() -> list[str]:
        http, mc = client()
        async with http:
            return await mc.names("vh")

    assert run(go()) == ["jobs", "mail"]
    assert route.calls[0].request.url.params["columns"] == "name"


@pytest.mark.parametrize(
    ("field", "count"),
    [
        ("messages_ready", 2**31),
        ("messages_unacknowledged", 2**40),
        ("consumers", 2**63),
    ],
)
def test_a_count_beyond_the_samples_columns_is_clamped_and_partial(
    mock: respx.MockRouter, field: str, count: int
) -> None:
    mock.get(f"{BASE}/api/queues/vh").respond(
        200, json=[queue_body(**{field: count}), queue_body("edge", messages_ready=COUNT_MAX)]
    )
    found = list_queues(vhost="vh")
    stats = found["jobs"]
    assert max(stats.ready, stats.unacked, stats.consumers) == COUNT_MAX == 2**31 - 1
    assert stats.partial
    assert (found["edge"].ready, found["edge"].partial) == (COUNT_MAX, False)


def test_cumulative_counters_past_32_bits_are_kept(mock: respx.MockRouter) -> None:
    # A busy queue publishes 2^31 messages in under a month at 1,000/s.
    big = {"publish": 2**40, "ack": 2**40 - 5}
    mock.get(f"{BASE}/api/queues/vh").respond(200, json=[queue_body(message_stats=big)])
    stats = list_queues(vhost="vh")["jobs"]
    assert (stats.published, stats.acked, stats.partial) == (2**40, 2**40 - 5, False)
