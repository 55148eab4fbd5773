"""The order every JSON API route checks a request in, before FastAPI reads it.

1. who is calling (401), 2. the media type (415), 3. that the body is one
unambiguous JSON document (400, `strict_json`); only then does FastAPI
validate the body against the route's typed model (422 naming the field).
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
from fastapi.routing import APIRoute

from guvscale.web.strict_json import check_json_request


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
            if takes_body:
                await check_json_request(request)
            return await handler(request)

        return guarded_handler
