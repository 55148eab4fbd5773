"""api.heroku.com for the worker: the formation calls, on an httpx.AsyncClient.

The worker runs many tenants at once on one event loop, so it needs the
async client; the web process keeps the sync `HerokuPlatform`. Both share the
request shape and the answer parsers. Each answer comes back with its
`Request-Id` and `RateLimit-Remaining` (not kept on the adapter: many calls
are in flight at once).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from guvscale.heroku._http import Timeout, asend, bad_shape, read_json
from guvscale.heroku.platform import (
    ACCEPT,
    Formation,
    _BadShape,
    _checked_quantity,
    _formations,
    _remaining,
    _seg,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    value: T
    request_id: str | None
    rate_limit_remaining: int | None


class AsyncHerokuPlatform:
    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        user_agent: str,
        *,
        timeout: Timeout = 10.0,
    ) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._user_agent = user_agent
        self._timeout = timeout

    async def list_formation(self, token: str, app: str) -> Answer[list[Formation]]:
        return await self._call(token, "GET", f"/apps/{_seg(app)}/formation", parse=_formations)

    async def scale(
        self, token: str, app: str, quantities: Mapping[str, int]
    ) -> Answer[list[Formation]]:
        """One batch PATCH carrying only the given types (callers pass only changes)."""
        updates = [
            {"type": t, "quantity": _checked_quantity(q)} for t, q in sorted(quantities.items())
        ]
        path = f"/apps/{_seg(app)}/formation"
        return await self._call(token, "PATCH", path, {"updates": updates}, parse=_formations)

    async def rate_limit_remaining(self, token: str) -> Answer[int]:
        """Free: costs no request token."""
        return await self._call(token, "GET", "/account/rate-limits", parse=_remaining)

    async def _call(
        self,
        token: str,
        method: str,
        path: str,
        payload: object = None,
        *,
        parse: Callable[[Any], T],
    ) -> Answer[T]:
        headers = {
            "Accept": ACCEPT,
            "Authorization": f"Bearer {token}",
            "User-Agent": self._user_agent,
        }
        response = await asend(
            self._client,
            method,
            self._base + path,
            headers=headers,
            timeout=self._timeout,
            secrets=(token,),
            json_body=payload,
        )
        try:
            value = parse(read_json(response))
        except _BadShape as exc:
            raise bad_shape(response, exc.what) from None
        remaining = response.headers.get("RateLimit-Remaining", "").strip()
        return Answer(
            value,
            response.headers.get("Request-Id"),
            int(remaining) if remaining.isdigit() else None,
        )
