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
    400: "The body is not valid JSON, or gives a key twice.",
    401: "Partner credentials missing or wrong.",
    403: "Not allowed.",
    404: "No add-on with that id (ours, gvs-..., or Heroku's uuid).",
    413: "The body is larger than MAX_BODY_BYTES.",
    415: "Content-Type is not application/json.",
    422: "A field is missing, mistyped or out of range, or names an unknown plan or region.",
}
_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "Basic realm, for the partner API's credentials",
        "schema": {"type": "string"},
    }
}


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error shape."""
    found: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        found[status] = {"model": ErrorBody, "description": _WHY[status]}
        if status == 401:
            found[status]["headers"] = _CHALLENGE
    return found


DESCRIPTION = """GuvScale's HTTP interface.

- `/heroku/resources`: Heroku's Add-on Partner API (v3), HTTP basic auth with
  the manifest's `id` and `api.password`.
- `/heroku/sso`, `/sso/login`: Heroku single sign-on into the dashboard (HTML).
- `/resources/{resource_id}`, `/logout`: dashboard pages for the signed-in add-on.

Every error answered as JSON has the shape `ErrorBody`.
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
    """FastAPI documents its own 422 shape; `web.errors` sends ErrorBody instead."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422")
            content = (answer or {}).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") == _FASTAPI_422:
                answer["description"] = _WHY[422]
                content["schema"] = {"$ref": _ERROR_REF}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


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
