"""What the worker recorded, as the config API and /metrics show it.

Reads only; the caller's session is scoped to the tenant (status, events)
or deliberately unscoped (metrics, worker liveness, which span tenants).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guvscale.db.models import Credentials, Resource
from guvscale.db.worker_models import ScalingEvent, TenantWorkerState, WorkerHeartbeat
from guvscale.errors import NotFound
from guvscale.plans import PLANS, plan_of

MAX_EVENTS = 500
# /health calls the worker stale after this many of the shortest poll interval without a tick.
STALE_INTERVALS = 3


@dataclass(frozen=True)
class TenantStatus:
    app: str | None
    plan: str
    poll_interval: int
    dry_run: bool
    last_tick: dt.datetime | None
    error: str | None
    roles: list[dict[str, Any]]


def status(session: Session, resource_id: str) -> TenantStatus:
    resource = session.get(Resource, resource_id)
    if resource is None:
        raise NotFound("no such add-on", where="id")
    cred = session.scalars(select(Credentials)).first()
    row = session.scalars(select(TenantWorkerState)).first()
    plan = plan_of(resource.plan)
    recorded: dict[str, Any] = row.status if row is not None else {}
    return TenantStatus(
        app=(cred.heroku_app_name if cred else None) or resource.app_name,
        plan=plan.name,
        poll_interval=plan.poll_interval_s,
        dry_run=resource.dry_run,
        last_tick=row.last_tick_at if row is not None else None,
        error=recorded.get("error"),
        roles=list(recorded.get("roles", [])),
    )


def events(
    session: Session, *, limit: int = 50, before: dt.datetime | None = None
) -> list[ScalingEvent]:
    """Newest first; `before` pages back (events strictly older)."""
    query = select(ScalingEvent).order_by(ScalingEvent.at.desc(), ScalingEvent.id.desc())
    if before is not None:
        query = query.where(ScalingEvent.at < before)
    return list(session.scalars(query.limit(max(1, min(limit, MAX_EVENTS)))))


def heartbeats(session: Session) -> list[WorkerHeartbeat]:
    return list(session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker_id)))


def worker_health(session: Session, now: dt.datetime) -> str:
    """ "ok", "stale" (no tick finished for three intervals) or "absent" (none ever ran)."""
    last = session.scalar(select(func.max(WorkerHeartbeat.last_tick_at)))
    if last is None:
        return "absent"
    shortest = min(p.poll_interval_s for p in PLANS.values())
    return "ok" if now - last <= dt.timedelta(seconds=STALE_INTERVALS * shortest) else "stale"
