"""The RabbitMQ management HTTP API: one small GET per queue a tenant's roles read.

The worker never lists a vhost: it may hold hundreds of thousands of queues
the tenant does not scale on, and the list would be read every poll.

The management URL is `scheme://user:password@host[:port][/prefix]`; the
credentials go in Basic auth, never in a logged URL. Redirects are followed
only on the broker's own host and never from https to http, so a hostile
broker cannot bounce our credentials (or us) somewhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

import httpx
import orjson

from guvscale.rabbitmq.errors import (
    BrokerAuthFailed,
    BrokerError,
    BrokerRefused,
    BrokerUnreachable,
    QueueMissing,
    VhostMissing,
)
from guvscale.rabbitmq.stats import QueueStats
from guvscale.rabbitmq.urls import HTTP_SCHEMES, mask_url, public_address
from guvscale.redact import scrub

log = logging.getLogger("guvscale.rabbitmq")

MAX_REDIRECTS = 3
# The management URL is user input and every answer is held whole in memory,
# for every tenant at once: each is capped, decoded (we ask for identity and
# refuse any other Content-Encoding, as a small gzip answer can decode to GiBs).
# One queue's columns are well under a kilobyte; a list has ~250 bytes a queue.
QUEUE_MAX_BYTES = 256 * 1024
LIST_MAX_BYTES = 8 * 1024 * 1024
# Asking only for what we read keeps the answer small for vhosts with many queues.
COLUMNS = ",".join(
    (
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
        "message_stats.publish",
        "message_stats.ack",
        "message_stats.publish_details.rate",
        "message_stats.ack_details.rate",
    )
)
QUERY = urlencode({"columns": COLUMNS}).encode()
NAMES_QUERY = urlencode({"columns": "name"}).encode()
# Samples keep ready, unacked and consumers in 32-bit columns (db/worker_models.py):
# one broker's larger count failed the insert of every tenant's samples in the
# batch. Clamped rather than dropped: so high a count still sizes a role up to its
# maximum; and partial, as the true figure is unknown, so it never justifies a
# scale-down. The cumulative publish/ack counters are not stored and not clamped.
COUNT_MAX = 2**31 - 1


class ManagementClient:
    """Reads one broker's queues.

    With `allow_private=False` every request first resolves the host, refuses
    it unless all its addresses are public, and connects to the address it
    checked (Host header and TLS name stay the host's), so DNS cannot switch
    it to a private address between the check and the connection.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        management_url: str,
        *,
        timeout: float,
        allow_private: bool = True,
    ) -> None:
        try:
            parts = urlsplit(management_url.strip())
            port = parts.port
        except ValueError:
            raise BrokerRefused(f"not a valid URL: {mask_url(management_url)}") from None
        if parts.scheme not in HTTP_SCHEMES or not parts.hostname:
            raise BrokerRefused(
                f"management URL must be http(s)://host: {mask_url(management_url)}"
            )
        self._http = http
        self._timeout = timeout
        self._allow_private = allow_private
        self._host = parts.hostname.lower()
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else ""
        self._auth = httpx.BasicAuth(user, password) if user is not None else None
        self._secrets = [s for s in {password, parts.password or ""} if s]
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host if port is None else f"{host}:{port}"
        path = parts.path.rstrip("/")
        # Accept ".../api" as well as the root: people paste either.
        if path.endswith("/api"):
            path = path[: -len("/api")]
        self._base = urlunsplit((parts.scheme, netloc, path, "", ""))
        # urlsplit takes host names httpx cannot send (a control character, an
        # IPv4 octet over 255, a malformed IDNA label): refuse them here, as input.
        _http_url(self._base, f"not a valid URL: {mask_url(management_url)}")

    @property
    def base_url(self) -> str:
        """The management URL without credentials."""
        return self._base

    async def queues(self, vhost: str) -> dict[str, QueueStats]:
        """Every queue of the vhost, by name, in one GET /api/queues/{vhost}.
        (The worker reads `named` queues and the credentials check `names`.)"""
        result: dict[str, QueueStats] = {}
        for item in await self._list(vhost, QUERY):
            stats = _stats(item)
            if stats is not None:
                result[stats.name] = stats
        return result

    async def names(self, vhost: str) -> list[str]:
        """The name of every queue of the vhost: the list, asking for names alone."""
        return [
            item["name"]
            for item in await self._list(vhost, NAMES_QUERY)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        ]

    async def _list(self, vhost: str, query: bytes) -> list[Any]:
        body = await self._get(
            f"/api/queues/{_seg(vhost)}",
            missing=lambda: _no_vhost(vhost),
            limit=LIST_MAX_BYTES,
            query=query,
        )
        if not isinstance(body, list):
            raise BrokerUnreachable(f"{self._base}: queue list is not a JSON array")
        return body

    async def named(self, vhost: str, names: list[str]) -> dict[str, QueueStats]:
        """The statistics of the named queues, by name; a queue the broker does
        not have is left out, and VhostMissing when it has none for a missing vhost."""
        found: dict[str, QueueStats] = {}
        # One after the other: a tenant holds at most one of the worker's shared
        # connections, so a slow broker cannot take those other tenants need.
        for name in names:
            with contextlib.suppress(QueueMissing):
                found[name] = await self.queue(vhost, name)
        if names and not found:
            # A queue's 404 does not say whether the vhost is there; its own GET does.
            await self._get(
                f"/api/vhosts/{_seg(vhost)}",
                missing=lambda: _no_vhost(vhost),
                limit=QUEUE_MAX_BYTES,
                query=NAMES_QUERY,
            )
        return found

    async def queue(self, vhost: str, name: str) -> QueueStats:
        """One queue's statistics; QueueMissing when there is no such queue (or vhost)."""
        body = await self._get(
            f"/api/queues/{_seg(vhost)}/{_seg(name)}",
            missing=lambda: QueueMissing(f"queue {name!r} not found in vhost {vhost!r}"),
            limit=QUEUE_MAX_BYTES,
        )
        stats = _stats(body)
        if stats is None:
            raise BrokerUnreachable(f"{self._base}: queue answer is not a queue")
        return stats

    async def _get(
        self, path: str, *, missing: Callable[[], BrokerError], limit: int, query: bytes = QUERY
    ) -> Any:
        # Parsed once with its query: httpx parses a URL given as text, and again to add params.
        url = httpx.URL(self._base + path, query=query)
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._send(url, limit)
            try:
                if response.is_redirect:
                    url = self._redirect_target(url, response, query)
                    continue
                return await self._read(response, missing, limit)
            finally:
                await response.aclose()
        raise BrokerRefused(f"{self._base}: more than {MAX_REDIRECTS} redirects")

    async def _send(self, target: httpx.URL, limit: int) -> httpx.Response:
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        # Our worker transport (guvscale.httpclient) then stops reading at the limit.
        extensions: dict[str, Any] = {"max_body": limit}
        if not self._allow_private:
            target, headers, pinned = await self._pinned(target, headers)
            extensions.update(pinned)
        with self._transport_errors():
            request = self._http.build_request(
                "GET", target, headers=headers, timeout=self._timeout, extensions=extensions
            )
            # Streamed: the body is read by _body, under the limit, whatever the client.
            response = await self._http.send(
                request,
                auth=self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT,
                follow_redirects=False,
                stream=True,
            )
        log.debug("rabbitmq GET %s -> %s", target.path, response.status_code)
        return response

    @contextlib.contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException:
            raise BrokerUnreachable(f"{self._base}: no answer within {self._timeout:g}s") from None
        except httpx.HTTPError as exc:
            detail = scrub(f"{type(exc).__name__}: {exc}", self._secrets)
            raise BrokerUnreachable(f"{self._base}: {detail}") from None
        except (httpx.InvalidURL, UnicodeError) as exc:  # e.g. a Location httpx cannot encode
            detail = scrub(f"{type(exc).__name__}: {exc}", self._secrets)
            raise BrokerRefused(f"{self._base}: not a URL we can send to ({detail})") from None

    async def _pinned(
        self, url: httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
        host = url.host
        address = await asyncio.to_thread(public_address, host, url.port)
        # The Host header and the TLS name (SNI, certificate check) stay the broker's.
        netloc = host if url.port is None else f"{host}:{url.port}"
        extensions: dict[str, Any] = {"sni_hostname": host} if url.scheme == "https" else {}
        return url.copy_with(host=address), {**headers, "Host": netloc}, extensions

    def _redirect_target(self, url: httpx.URL, response: httpx.Response, query: bytes) -> httpx.URL:
        location = response.headers.get("Location", "")
        try:
            target = url.join(location)
            target_host = target.host or ""
        except (httpx.InvalidURL, ValueError):  # IDNAError is a ValueError
            raise BrokerRefused(
                f"{self._base} redirected to an invalid URL; not followed"
            ) from None
        if target_host.lower() != self._host:
            raise BrokerRefused(
                f"{self._base} redirected to another host ({target_host}); not followed"
            )
        if url.scheme == "https" and target.scheme != "https":
            raise BrokerRefused(f"{self._base} redirected from https to http; not followed")
        # Our own query (columns) replaces whatever the target carried.
        return target.copy_with(query=query)

    async def _read(
        self, response: httpx.Response, missing: Callable[[], BrokerError], limit: int
    ) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise BrokerAuthFailed(
                f"{self._base} refused the user and password ({status}); "
                "check the URL's credentials (CloudAMQP rotates passwords)"
            )
        if status == 404:
            error: BrokerError = missing()
            raise error
        if status >= 500:
            raise BrokerUnreachable(f"{self._base} answered {status}")
        if not response.is_success:
            raise BrokerError(f"{self._base} answered {status}")
        content = await self._body(response, limit)
        try:
            return orjson.loads(content)
        except ValueError:
            raise BrokerUnreachable(
                f"{self._base}: answer is not JSON; is this the management API?"
            ) from None

    async def _body(self, response: httpx.Response, limit: int) -> bytes:
        coding = response.headers.get("Content-Encoding", "").strip().lower()
        if coding not in ("", "identity"):
            raise BrokerUnreachable(
                f"{self._base}: answered with a Content-Encoding we did not ask for"
            )
        parts: list[bytes] = []
        size = 0
        with self._transport_errors():
            async for part in response.aiter_raw():
                size += len(part)
                if size > limit:
                    raise BrokerUnreachable(
                        f"{self._base}: answer larger than {limit // 1024} KiB; not read"
                    )
                parts.append(part)
        return b"".join(parts)


def _http_url(url: str, refusal: str) -> None:
    try:
        httpx.URL(url).host  # noqa: B018  (decodes the IDNA name, which can raise)
    except (httpx.InvalidURL, ValueError):  # IDNAError is a ValueError
        raise BrokerRefused(refusal) from None


def _seg(value: str) -> str:
    # The default vhost "/" must travel as %2F.
    return quote(value, safe="")


def _no_vhost(vhost: str) -> VhostMissing:
    return VhostMissing(f"vhost {vhost!r} not found (or this user may not see it)")


def _stats(item: Any) -> QueueStats | None:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return None
    counts = [
        _int(item.get(key)) for key in ("messages_ready", "messages_unacknowledged", "consumers")
    ]
    beyond = any(count is not None and count > COUNT_MAX for count in counts)
    ready, unacked, consumers = (min(count or 0, COUNT_MAX) for count in counts)
    stats = item.get("message_stats")
    stats = stats if isinstance(stats, dict) else {}
    return QueueStats(
        name=item["name"],
        ready=ready,
        unacked=unacked,
        consumers=consumers,
        # No message_stats yet means nothing was published since the queue appeared.
        published=_int(stats.get("publish")),
        acked=_int(stats.get("ack")),
        publish_rate=_rate(stats.get("publish_details")),
        ack_rate=_rate(stats.get("ack_details")),
        partial=None in counts or beyond,
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def _rate(details: object) -> float | None:
    if not isinstance(details, dict):
        return None
    rate = details.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    return float(rate)
