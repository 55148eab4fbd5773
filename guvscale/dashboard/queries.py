"""The dashboard's reads of what the worker recorded, always through the tenant scope.

Sample rows carry only a series id, so every sample query joins `role_series`
(tenant-owned): the session's scope filters that join, and no query can read
another tenant's samples even with a guessed series id. Ranges read the
coarsest table that still draws a fine line: raw polls for an hour, one-minute
rollups for a day, ten-minute rollups for a week; and the raw polls newer than
the newest rollup, so the right edge of a graph is never behind.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.worker_models import (
    RoleSample,
    RoleSampleMinute,
    RoleSampleTenMinutes,
    RoleSeries,
    ScalingEvent,
)
from guvscale.services import records

SampleTable = type[RoleSample] | type[RoleSampleMinute] | type[RoleSampleTenMinutes]

RANGES: dict[str, tuple[dt.timedelta, SampleTable]] = {
    "1h": (dt.timedelta(hours=1), RoleSample),
    "24h": (dt.timedelta(hours=24), RoleSampleMinute),
    "7d": (dt.timedelta(days=7), RoleSampleTenMinutes),
}
DEFAULT_RANGE = "24h"


@dataclass(frozen=True)
class Point:
    at: float  # unix seconds
    ready: int | None
    unacked: int | None
    consumers: int | None
    publish_rate: float | None
    ack_rate: float | None
    current: int | None
    desired: int | None
    partial: bool


def pick_range(name: str | None) -> tuple[str, dt.timedelta, SampleTable]:
    key = name if name in RANGES else DEFAULT_RANGE
    span, table = RANGES[key]
    return key, span, table


def _rows(
    db: Session, table: SampleTable, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, Any]]:
    stmt = (
        select(RoleSeries.role, table)
        .join(RoleSeries, RoleSeries.id == table.series_id)
        .where(table.at >= start, table.at <= end)
        .order_by(RoleSeries.role, table.at)
    )
    return [(role, row) for role, row in db.execute(stmt)]


def samples(
    db: Session, table: SampleTable, start: dt.datetime, end: dt.datetime
) -> dict[str, list[Point]]:
    """Per role name, the points between `start` and `end`, oldest first."""
    found = _rows(db, table, start, end)
    if table is not RoleSample:
        newest = max((row.at for _, row in found), default=None)
        # A rollup bucket is stamped at its start: raw polls after its end are newer.
        width = dt.timedelta(minutes=1 if table is RoleSampleMinute else 10)
        raw_from = start if newest is None else newest + width
        found += _rows(db, RoleSample, raw_from, end)
    out: dict[str, list[Point]] = defaultdict(list)
    for role, row in found:
        out[role].append(
            Point(
                at=row.at.timestamp(),
                ready=row.ready,
                unacked=row.unacked,
                consumers=row.consumers,
                publish_rate=row.publish_rate,
                ack_rate=row.ack_rate,
                current=row.current,
                desired=row.desired,
                partial=bool(row.partial),
            )
        )
    for points in out.values():
        points.sort(key=lambda p: p.at)
    return dict(out)


def events(
    db: Session, *, since: dt.datetime | None = None, limit: int = 100
) -> list[ScalingEvent]:
    """Scaling events newest first (the worker's records service), back to `since`."""
    found = records.events(db, limit=limit)
    return [e for e in found if since is None or e.at >= since]


def failed(event: ScalingEvent) -> bool:
    """An event whose change did not happen (the worker writes 'error: ...' or 'unknown: ...')."""
    return event.outcome not in ("applied", "dry-run", "pending")
