"""One structured log line per request, carrying a request id and no secrets.

The path is logged without its query string: SSO GETs carry tokens there.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import Message, Receive, Scope, Send

from guvscale.redact import redact_fields, redact_text
from guvscale.web.asgi import HttpMiddleware

log = logging.getLogger("guvscale.request")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: level, logger, message, the record's `fields`, and
    for an exception its last line (`error`) and the whole traceback (`traceback`).

    Secrets are replaced where they live (secret-named fields, URL passwords;
    see guvscale.redact), never as substrings of other words.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact_text(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            extra = redact_fields(fields)
            payload.update({k: v for k, v in extra.items() if k not in _OWN_KEYS})
        if record.exc_info:
            exc = record.exc_info[1]
            # The exception's own first line: a traceback's last line may be a footnote
            # (SQLAlchemy ends with "Background on this error at: ...").
            first = (str(exc).strip().splitlines() or [""])[0] if exc is not None else ""
            payload["error"] = redact_text(f"{type(exc).__name__}: {first}"[:500])
            payload["traceback"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


_OWN_KEYS = frozenset({"level", "logger", "message", "error", "traceback"})


def configure_logging(level: int = logging.INFO) -> None:
    """Every line JSON, uvicorn's own included (it configures its loggers with
    plain-text handlers before calling the app factory; they go to ours instead)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        server_log = logging.getLogger(name)
        if server_log.handlers:  # a logger uvicorn turned off (--no-access-log) stays off
            server_log.handlers[:] = []
            server_log.propagate = True


class RequestLogMiddleware(HttpMiddleware):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "fields": {
                        "event": "request",
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                },
            )
