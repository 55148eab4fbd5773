"""The shape a tenant's stored memory must have before a tick reads it.

The memory is jsonb written by this and earlier releases, or by hand. A part
of the wrong shape failed that tenant's tick every time, or worse, raised
where one tenant's failure is no longer contained and ended the round for
all. Every part is something the worker rebuilds as it would for a new
tenant (formation reads, queue counters, Heroku pacing, series ids, learnt
limits), so a misshapen part is dropped rather than mended. The scaler
states inside `roles` are the scalers' own: `Scaler.restore` judges those
(worker/tenant.py), since only it knows their format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]
WHOLE = "all of it"  # what `checked` reports when the memory is not even a mapping


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _optional(check: Check) -> Check:
    return lambda v: v is None or check(v)


def _mapping_of(check: Check) -> Check:
    return lambda v: isinstance(v, dict) and all(check(x) for x in v.values())


def _record(required: dict[str, Check], optional: dict[str, Check]) -> Check:
    def check(v: Any) -> bool:
        return (
            isinstance(v, dict)
            and all(k in v and c(v[k]) for k, c in required.items())
            and all(c(v[k]) for k, c in optional.items() if k in v)
        )

    return check


_FORMATION_READ = _record(
    {"types": _mapping_of(_integer)},
    {"read_at": _number, "ttl": _number, "stale": lambda v: isinstance(v, bool)},
)
_HEROKU: dict[str, Check] = {
    "fp": _text,
    "remaining": _optional(_number),
    "seen_at": _optional(_number),
    "paused_until": _optional(_number),
    "invalid": _optional(_record({"fp": _text, "message": _text}, {})),
}
_BROKER: dict[str, Check] = {"refreshed_at": _optional(_number), "error": _optional(_text)}
_COUNTERS: dict[str, Check] = {
    "published": _optional(_integer),
    "acked": _optional(_integer),
    "read_at": _optional(_number),
}


def _drop_entries(part: dict[str, Any], check: Check) -> bool:
    bad = [k for k, v in part.items() if not check(v)]
    for k in bad:
        del part[k]
    return bool(bad)


def _drop_fields(part: dict[str, Any], checks: dict[str, Check], together: bool = False) -> bool:
    """Drop the fields that fail their check (`together`: all of `checks` when one fails)."""
    bad = [k for k, check in checks.items() if k in part and not check(part[k])]
    for k in checks if bad and together else bad:
        part.pop(k, None)
    return bool(bad)


def _roles(part: dict[str, Any]) -> bool:
    dropped = _drop_entries(part, lambda v: isinstance(v, dict))
    for kept in part.values():
        # A rate needs both reads of a counter and the time between: one bad, none kept.
        dropped |= _drop_fields(kept, _COUNTERS, together=True)
    return dropped


_PARTS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "formation": lambda part: _drop_entries(part, _FORMATION_READ),
    "roles": _roles,
    "series": lambda part: _drop_entries(part, _integer),
    "heroku": lambda part: _drop_fields(part, _HEROKU),
    "broker": lambda part: _drop_fields(part, _BROKER),
    "limits": lambda part: _drop_entries(part, _mapping_of(_integer)),
}


def checked(stored: Any) -> tuple[dict[str, Any], list[str]]:
    """The stored memory without its misshapen parts, and which parts those were.
    Keys this release does not know are kept: a newer release may have written them."""
    if stored is None:
        return {}, []
    if not isinstance(stored, dict):
        return {}, [WHOLE]
    memory = dict(stored)
    reset: list[str] = []
    for name, repair in _PARTS.items():
        if name not in memory:
            continue
        if not isinstance(memory[name], dict):
            del memory[name]
            reset.append(name)
        elif repair(memory[name]):
            reset.append(name)
    return memory, reset
