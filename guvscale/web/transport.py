"""Production transport: https only, and said so (HSTS).

Heroku's router ends TLS and tells the app how the client came in with
`X-Forwarded-Proto`; the router sets it on every request, so a client cannot
forge it past the router. A plain-http request is sent to the same path on
PUBLIC_URL (never to the `Host` it named) with 308, which keeps the method and
body. Every answer carries Strict-Transport-Security.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# One year, the least browsers' preload lists take; subdomains of our host are ours too.
HSTS = b"max-age=31536000; includeSubDomains"


def location(public_url: str, scope: Scope) -> str:
    """PUBLIC_URL's origin with this request's path and query: never the Host header."""
    query: str = scope.get("query_string", b"").decode("latin-1")
    raw: bytes = scope.get("raw_path") or quote(scope["path"]).encode()
    path = raw.decode("latin-1")
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


class TransportSecurityMiddleware:
    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        forwarded = dict(scope["headers"]).get(b"x-forwarded-proto", b"")
        # A chain of proxies lists the client's scheme first.
        if forwarded.split(b",")[0].strip().lower() == b"http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 308,
                    "headers": [
                        (b"location", location(self.public_url, scope).encode("latin-1")),
                        (b"content-length", b"0"),
                        (b"strict-transport-security", HSTS),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"strict-transport-security", HSTS),
                ]
            await send(message)

        await self.app(scope, receive, with_hsts)
