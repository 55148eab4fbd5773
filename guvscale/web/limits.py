"""Refuse request bodies over the cap before any route reads them."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guvscale.errors import PayloadTooLarge
from guvscale.web.asgi import HttpMiddleware, TrackedSend


class BodySizeLimitMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        error = PayloadTooLarge(f"request body is larger than {self.max_bytes} bytes")
        body = json.dumps(error.to_dict()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status_code,
                # The rest of the body stays unread: say the connection ends with this answer.
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        tracked = TrackedSend(send)

        class _TooLarge(Exception):
            pass

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counting_receive, tracked)
        except _TooLarge:
            # A chunked body with no length: found out while reading.
            if not tracked.started:
                await self._refuse(send)
