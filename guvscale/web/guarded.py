"""The order every JSON API route checks a request in, before FastAPI reads it.

1. who is calling (401), 2. no query parameter the route does not take
(422 naming it, `check_query`), 3. the media type (415), 4. that the body
is one unambiguous JSON document (400, `strict_json`); only then does
FastAPI validate the body against the route's typed model (422 naming the field).
So a caller without credentials learns nothing, not even whether its body
would have parsed. (A body over MAX_BODY_BYTES is refused earlier still,
413, by `limits.BodySizeLimitMiddleware`.)

The partner API (Basic auth) and the config API (Bearer GUVSCALE_TOKEN)
each subclass `GuardedRoute` with their own `check_caller`, and pass it to
their router as `route_class`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from guvscale.errors import Unprocessable
from guvscale.web.strict_json import check_json_request


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def check_query(request: Request) -> None:
    """422 for a query parameter the matched route does not take: a typo
    (`?limt=5`) must not be silently ignored and answered as if absent."""
    route = request.scope.get("route")
    declared = _query_names(route.dependant) if isinstance(route, APIRoute) else set()
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        raise Unprocessable(f"unknown query parameter {unknown[0]!r}", where=unknown[0])


class GuardedRoute(APIRoute):
    """Caller, media type and strict JSON, in that order, before FastAPI parses anything."""

    async def check_caller(self, request: Request) -> None:
        """Raise Unauthorized unless the caller may use this route."""
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_body = self.body_field is not None

        async def guarded_handler(request: Request) -> Response:
            await self.check_caller(request)
            check_query(request)
            if takes_body:
                await check_json_request(request)
            return await handler(request)

        return guarded_handler
