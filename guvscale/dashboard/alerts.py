"""What must not be missed: the worker's errors now, and failed changes. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guvscale.dashboard.queries import failed
from guvscale.db.worker_models import ScalingEvent
from guvscale.services.records import TenantStatus


@dataclass(frozen=True)
class Alert:
    where: str  # "" for the whole add-on, else the role
    message: str


def alerts(status: TenantStatus, recent: Sequence[ScalingEvent]) -> list[Alert]:
    """The add-on's own error first (bad token, unreachable broker), then each
    role's (missing queue, limit hit, beyond the plan), then the last change of
    each other role when it failed and nothing since went through."""
    out: list[Alert] = []
    if status.error:
        out.append(Alert("", str(status.error)))
    for entry in status.roles:
        if entry.get("error"):
            out.append(Alert(str(entry.get("role", "")), str(entry["error"])))
    seen: set[str] = {a.where for a in out}
    for e in recent:  # newest first
        if e.role in seen:
            continue
        seen.add(e.role)
        if failed(e):
            out.append(Alert(e.role, f"scaling to {e.to_quantity} failed: {e.outcome}"))
    return out
