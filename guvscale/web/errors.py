"""Every error leaves with its own status as JSON `{"id", "message"[, "where"]}`.

Two errors are no caller's fault and may reach a browser, so they answer an
HTML page when the request asks for HTML: the database being unreachable or a
lost conflict (503 with Retry-After) and an unhandled error (500). Neither
drops the connection: the answer is complete, so keep-alive goes on.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from guvscale.db.engine import DATABASE_ERRORS, transient, unavailable
from guvscale.db.outage import OutageMonitor, describe
from guvscale.errors import AppError
from guvscale.settings import Settings
from guvscale.web.asgi import HttpMiddleware, TrackedSend
from guvscale.web.auth import PAGE_HEADERS
from guvscale.web.transport import location

log = logging.getLogger(__name__)

# Seconds a client should wait after a 503: a restart or fail-over takes a few.
RETRY_AFTER_S = 5
_NO_STORE = {"Cache-Control": "no-store"}


def wants_html(request: Request) -> bool:
    """Browsers ask for text/html; Heroku, the CLI and scripts ask for JSON or anything."""
    return "text/html" in request.headers.get("accept", "").lower()


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    title: str,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_html(request):
        headers = {**PAGE_HEADERS, **(headers or {})}
        response: Response = request.app.state.templates.TemplateResponse(
            request,
            "error.html",
            {"title": title, "message": message},
            status_code=status,
            headers=headers,
        )
        return response
    headers = {**_NO_STORE, **(headers or {})}
    return JSONResponse({"id": code, "message": message}, status_code=status, headers=headers)


def database_error(request: Request, exc: Exception) -> Response:
    """503 while the database is unreachable (told to the outage monitor, which
    logs once per outage) or for a lost conflict; anything else is a bug: 500."""
    if unavailable(exc):
        monitor: OutageMonitor = request.app.state.outage
        monitor.failed(exc)
        code = "database_unavailable"
        message = "the service cannot reach its database just now; try again in a few seconds"
    elif transient(exc):
        log.warning(
            "%s %s lost a database conflict: %s", request.method, request.url.path, describe(exc)
        )
        code = "try_again"
        message = "a concurrent change got in the way; try again"
    else:
        log_unhandled(request.scope, exc)
        return internal_error(request)
    return error_response(
        request,
        503,
        code,
        message,
        title="Temporarily unavailable",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def log_unhandled(scope: Scope, exc: BaseException) -> None:
    request_id = scope.get("state", {}).get("request_id")
    log.error(
        "unhandled error in %s %s (request %s): %s",
        scope.get("method"),
        scope.get("path"),
        request_id,
        type(exc).__name__,
        exc_info=exc,
        extra={"fields": {"request_id": request_id}},
    )


def internal_error(request: Request) -> Response:
    request_id = getattr(request.state, "request_id", None)
    return error_response(
        request,
        500,
        "internal_error",
        f"internal error (request {request_id})",
        title="Something went wrong",
    )


def slash_twin(request: Request) -> str | None:
    """Where a path that exists only with (or without) a trailing slash lives, on
    PUBLIC_URL: the same redirect Starlette makes, without trusting the Host header."""
    path = request.scope["path"]
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    if not twin or twin == path or twin.startswith("//"):
        return None
    scope = {**request.scope, "path": twin}
    if not any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
        return None
    raw: bytes = request.scope.get("raw_path") or quote(path).encode()
    raw_twin = raw.rstrip(b"/") if raw.endswith(b"/") else raw + b"/"
    settings: Settings = request.app.state.settings
    return location(settings.public_url, {**scope, "raw_path": raw_twin})


class CrashGuard(HttpMiddleware):
    """Answers an unhandled error itself, logged once with its whole traceback.

    Starlette's own last-resort handler answers and then re-raises, so the
    server logged the traceback a second time and closed the connection under
    a response that had not said `Connection: close`. Here the error ends with
    its answer; only an answer already under way (nothing can be sent in its
    place) is cut short, which the server reports by closing the connection.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            request = Request(scope)
            if isinstance(exc, DATABASE_ERRORS):
                response = database_error(request, exc)
            else:
                log_unhandled(scope, exc)
                response = internal_error(request)
            if not tracked.started:
                await response(scope, receive, send)


def _where(loc: tuple[object, ...] | list[object]) -> str:
    return ".".join(str(part) for part in loc)


def describe_validation(exc: RequestValidationError) -> tuple[int, str, str | None]:
    """Status, message and location for pydantic's errors, in words a caller can act on."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        detail = (first.get("ctx") or {}).get("error", "malformed JSON")
        return 400, f"request body is not valid JSON: {detail}", "body"
    parts = []
    for e in errors[:10]:
        loc = _where(e.get("loc", ()))
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    where = _where(errors[0].get("loc", ())) if errors else None
    return 422, "; ".join(parts) or "invalid request", where


def install(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message, where = describe_validation(exc)
        body = {"id": "bad_request" if status == 400 else "invalid_params", "message": message}
        if where:
            body["where"] = where
        return JSONResponse(body, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and (target := slash_twin(request)) is not None:
            return RedirectResponse(target, status_code=307)
        code = {
            401: "unauthorized",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
        }.get(exc.status_code, "error")
        return JSONResponse(
            {"id": code, "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, database_error)
    # Everything else unhandled: CrashGuard, added by the app factory as middleware.
