"""Every error leaves as JSON `{"id", "message"[, "where"]}` with its own status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from guvscale.errors import AppError

log = logging.getLogger(__name__)


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
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
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

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
        return JSONResponse(
            {"id": "internal_error", "message": f"internal error (request {request_id})"},
            status_code=500,
        )
