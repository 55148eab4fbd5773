"""The error shape every route answers with, and its OpenAPI descriptions.

`web.errors` sends every error as `ErrorBody`; routes list the statuses they
can answer with `answers(...)` so the schema shows exactly what is sent.
"""

from __future__ import annotations

from typing import Any

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
