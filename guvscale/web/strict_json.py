"""JSON read strictly: what Python's json module would quietly bend is refused.

A key given twice is ambiguous (which one did the sender mean?), so it is
refused like the rules loader refuses it in YAML, rather than the last one
winning. NaN and Infinity are not JSON. Numbers too long to convert and
nesting too deep to parse are malformed input too, not a crash.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from guvscale.errors import AppError, UnsupportedMediaType


class BadJson(AppError):
    status_code = 400
    code = "bad_request"


class _Duplicate(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Duplicate(key)
        found[key] = value
    return found


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def check_json(raw: bytes) -> None:
    """Raise BadJson (400) unless `raw` is one unambiguous JSON document."""
    try:
        json.loads(raw, object_pairs_hook=_unique, parse_constant=_not_json)
    except _Duplicate as exc:
        raise BadJson(
            f"request body is ambiguous: duplicate key {exc.key[:100]!r}", where="body"
        ) from None
    except RecursionError:
        raise BadJson("request body is not valid JSON: nested too deeply", where="body") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, a number too long
        raise BadJson(f"request body is not valid JSON: {str(exc)[:200]}", where="body") from None


def check_json_media(request: Request) -> None:
    """415 unless Content-Type is application/json or application/*+json."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {media[:100] or 'none'!r}",
            where="content-type",
        )


async def check_json_request(request: Request) -> None:
    """A JSON body route's guard, to run before FastAPI parses the body (see
    web/guarded.py's GuardedRoute): 415 for another media type, 400 for
    ambiguous or malformed JSON. Starlette caches the body, so FastAPI then
    validates the same bytes against the route's model."""
    check_json_media(request)
    check_json(await request.body())
