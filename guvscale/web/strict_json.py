"""JSON read strictly: what Python's json module would quietly bend is refused.

A key given twice is ambiguous (which one did the sender mean?), so it is
refused like the rules loader refuses it in YAML, rather than the last one
winning. NaN and Infinity are not JSON. Numbers too long to convert and
nesting too deep to parse are malformed input too, not a crash.
"""

from __future__ import annotations

import json
from typing import Any

from guvscale.errors import AppError


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
