"""The error shape every route answers with, and its OpenAPI descriptions.

`web.errors` sends every error as `ErrorBody`; routes list the statuses they
can answer with `answers(...)` so the schema shows exactly what is sent.
"""

from __future__ import annotations

from typing import Any, TypedDict

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    id: str = Field(description="machine-readable error code, e.g. invalid_params")
    message: str = Field(description="what is wrong, in words a caller can act on")
    where: str | None = Field(
        default=None, description="the field or thing at fault, e.g. body.plan; omitted if none"
    )


_WHY = {
    400: "The body is not valid JSON, gives a key twice, or nests too deeply.",
    401: "Partner credentials missing or wrong.",
    403: "Not allowed.",
    404: "No add-on with that id (ours, gvs-..., or Heroku's uuid).",
    413: "The body is larger than MAX_BODY_BYTES.",
    415: "Content-Type is not application/json.",
    422: "A field is missing, mistyped or out of range, or names an unknown plan or region.",
    500: "An internal error; the message names the request id to quote.",
    503: (
        "The database is unreachable just now (database_unavailable), or a concurrent "
        "change got in the way (try_again): try again after Retry-After seconds."
    ),
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "the scheme to authenticate with: Basic (partner API) or Bearer",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    503: {
        "Retry-After": {
            "description": "seconds to wait before trying again",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
}
# Answered by every route (web.errors): JSON, or an HTML page when the request asks for HTML.
FAILURES = (500, 503)


def answers(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error shape;
    `why` overrides a status's description."""
    found: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        found[status] = {"model": ErrorBody, "description": (why or {}).get(status, _WHY[status])}
        if status in _HEADERS:
            found[status]["headers"] = _HEADERS[status]
    return found


DESCRIPTION = """GuvScale's HTTP interface.

- `/heroku/resources`: Heroku's Add-on Partner API (v3), HTTP basic auth with
  the manifest's `id` and `api.password`.
- `/heroku/sso`, `/sso/login`: Heroku single sign-on into the dashboard (HTML).
- `/config/{id}`: the config API the heroku-guvscale CLI plugin uses,
  `Authorization: Bearer <GUVSCALE_TOKEN>` for the add-on `GUVSCALE_ID` names.
- `/resources/{resource_id}`, `/logout`: dashboard pages for the signed-in add-on
  (HTML). The dashboard's JSON routes (`.../graphs/data`, `.../rules/check`)
  take the same session cookie, and posts its CSRF token (`X-CSRF-Token`). The
  section pages and their forms (rules, graphs, log, cost, setup) are HTML for
  the browser only and left out of this schema.
- `/metrics`: Prometheus text; `Authorization: Bearer <METRICS_TOKEN>` when set.

Every error answered as JSON has the shape `ErrorBody`. The JSON APIs check
a request in this order: size (413), credentials (401), no unknown query
parameter (422), media type (415), JSON syntax (400: malformed, a key given
twice, NaN, nested too deeply), then the typed body (422).
"""


class DocsUrls(TypedDict):
    openapi_url: str | None
    docs_url: str | None
    redoc_url: str | None


def docs_urls(production: bool) -> DocsUrls:
    """FastAPI's docs and schema URLs: none in production (404), where nobody
    should learn the API's shape from us; the defaults elsewhere."""
    if production:
        return DocsUrls(openapi_url=None, docs_url=None, redoc_url=None)
    return DocsUrls(openapi_url="/openapi.json", docs_url="/docs", redoc_url="/redoc")


_ERROR_REF = "#/components/schemas/ErrorBody"
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _error_shape_everywhere(schema: dict[str, Any]) -> None:
    """FastAPI documents its own 422 shape; `web.errors` sends ErrorBody instead.
    And any route can fail with a 500 or (the database away) a 503."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            answer = responses.get("422")
            content = (answer or {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") == _FASTAPI_422:
                answer["description"] = _WHY[422]
                content["schema"] = {"$ref": _ERROR_REF}
            for status in FAILURES:
                responses.setdefault(str(status), failure(status))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def failure(status: int, description: str | None = None) -> dict[str, Any]:
    """A 500 or 503 answer as every route documents it (JSON, or HTML for a
    browser), with its own description or the usual one."""
    answer: dict[str, Any] = {
        "description": description or _WHY[status],
        "content": {
            "application/json": {"schema": {"$ref": _ERROR_REF}},
            "text/html": {"schema": {"type": "string"}},
        },
    }
    if status in _HEADERS:
        answer["headers"] = _HEADERS[status]
    return answer


def install(app: FastAPI) -> None:
    """The app's OpenAPI schema, with the error shape that is actually sent."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes
            )
            _error_shape_everywhere(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def html(description: str) -> dict[str, Any]:
    """An OpenAPI answer that is an HTML page, for the browser routes."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}
