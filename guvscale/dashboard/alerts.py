"""What must not be missed: the worker's errors now, and failed changes. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guvscale.dashboard.queries import Event


@dataclass(frozen=True)
class Alert:
    where: str  # "" for the whole add-on, else the role
    message: str


def _role_entries(status: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    roles = status.get("roles")
    if isinstance(roles, Mapping):
        for name, entry in roles.items():
            if isinstance(entry, Mapping):
                yield str(name), entry
    elif isinstance(roles, list):
        for entry in roles:
            if isinstance(entry, Mapping):
                yield str(entry.get("role", "")), entry


def role_status(status: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The worker's last word per role, as it stored it."""
    return list(_role_entries(status))


def alerts(status: Mapping[str, Any], recent: Sequence[Event]) -> list[Alert]:
    """The add-on's own error first, then each role's, then the last failed change
    of each role that has not been followed by a good one."""
    out: list[Alert] = []
    error = status.get("error")
    if error:
        out.append(Alert("", str(error)))
    for name, entry in _role_entries(status):
        if entry.get("error"):
            out.append(Alert(name, str(entry["error"])))
    seen: set[str] = {a.where for a in out}
    for e in recent:  # newest first
        if e.role in seen:
            continue
        seen.add(e.role)
        if e.failed:
            out.append(Alert(e.role, f"scaling to {e.to_quantity} failed: {e.outcome}"))
    return out
