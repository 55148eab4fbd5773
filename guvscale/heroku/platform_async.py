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

from guvscale.heroku._http import asend
from guvscale.heroku.platform import (
    Formation,
    PlatformBase,
    _formations,
    _remaining,
    _seg,
    batch_updates,
    parsed,
    remaining_of,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Answer(Generic[T]):
    value: T
    request_id: str | None
    rate_limit_remaining: int | None


class AsyncHerokuPlatform(PlatformBase[httpx.AsyncClient]):
    async def list_formation(self, token: str, app: str) -> Answer[list[Formation]]:
        return await self._call(token, "GET", f"/apps/{_seg(app)}/formation", parse=_formations)

    async def scale(
        self, token: str, app: str, quantities: Mapping[str, int]
    ) -> Answer[list[Formation]]:
        """One batch PATCH carrying only the given types (callers pass only changes)."""
        path = f"/apps/{_seg(app)}/formation"
        updates = batch_updates(quantities)
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
        response = await asend(
            self._client,
            method,
            self._base + path,
            headers=self._headers(token),
            timeout=self._timeout,
            secrets=(token,),
            json_body=payload,
        )
        value = parsed(response, parse)
        return Answer(value, response.headers.get("Request-Id"), remaining_of(response))
