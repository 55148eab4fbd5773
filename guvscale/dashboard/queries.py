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
from typing import NamedTuple

from sqlalchemy import func, select
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
    """One bucket of a role's samples: the highest counts seen in it (so no peak
    is hidden), the mean rates, and the mean dyno count (for cost)."""

    at: float  # unix seconds of the bucket's first sample
    ready: int | None
    unacked: int | None
    consumers: int | None
    publish_rate: float | None
    ack_rate: float | None
    current: int | None
    desired: int | None
    partial: bool
    current_mean: float | None = None
    until: float | None = None  # unix seconds the bucket's samples cover up to


def pick_range(name: str | None) -> tuple[str, dt.timedelta, SampleTable]:
    key = name if name in RANGES else DEFAULT_RANGE
    span, table = RANGES[key]
    return key, span, table


# Seconds one row of each table stands for.
ROW_SECONDS: dict[SampleTable, float] = {
    RoleSample: 0.0,
    RoleSampleMinute: 60.0,
    RoleSampleTenMinutes: 600.0,
}
BUCKETS = 240  # points per line: about one per two and a half pixels of a chart


def _buckets(
    db: Session, table: SampleTable, start: dt.datetime, end: dt.datetime, width: float
) -> list[tuple[str, Point]]:
    epoch = func.extract("epoch", table.at)
    bucket = func.floor(epoch / width).label("bucket")
    stmt = (
        select(
            RoleSeries.role,
            bucket,
            func.min(epoch),
            func.max(epoch),
            func.max(table.ready),
            func.max(table.unacked),
            func.max(table.consumers),
            func.avg(table.publish_rate),
            func.avg(table.ack_rate),
            func.max(table.current),
            func.max(table.desired),
            func.bool_or(table.partial),
            func.avg(table.current),
        )
        .join(RoleSeries, RoleSeries.id == table.series_id)
        .where(table.at >= start, table.at <= end)
        .group_by(RoleSeries.role, bucket)
        .order_by(RoleSeries.role, bucket)
    )
    out = []
    span = ROW_SECONDS[table]
    for (
        role,
        _b,
        first,
        last,
        ready,
        unacked,
        consumers,
        pub,
        ack,
        cur,
        des,
        part,
        mean,
    ) in db.execute(stmt):
        out.append(
            (
                role,
                Point(
                    at=float(first),
                    ready=ready,
                    unacked=unacked,
                    consumers=consumers,
                    publish_rate=None if pub is None else float(pub),
                    ack_rate=None if ack is None else float(ack),
                    current=cur,
                    desired=des,
                    partial=bool(part),
                    current_mean=None if mean is None else float(mean),
                    until=float(last) + span,
                ),
            )
        )
    return out


def samples(
    db: Session,
    table: SampleTable,
    start: dt.datetime,
    end: dt.datetime,
    buckets: int = BUCKETS,
) -> dict[str, list[Point]]:
    """Per role name, at most about `buckets` points between `start` and `end`,
    oldest first, aggregated in the database so a week costs what an hour does."""
    width = max((end - start).total_seconds() / buckets, ROW_SECONDS[table], 1.0)
    found = _buckets(db, table, start, end, width)
    if table is not RoleSample:
        newest = max((p.until or p.at for _, p in found), default=None)
        # Rollups are stamped at their start and lag the raw polls: add the polls after them.
        raw_from = start if newest is None else dt.datetime.fromtimestamp(newest, dt.UTC)
        found += _buckets(db, RoleSample, raw_from, end, width)
    out: dict[str, list[Point]] = defaultdict(list)
    for role, point in found:
        out[role].append(point)
    for points in out.values():
        points.sort(key=lambda p: p.at)
    return dict(out)


class Window(NamedTuple):
    """A named range ending `now`, and every role's points in it."""

    key: str
    start: dt.datetime
    end: dt.datetime
    points: dict[str, list[Point]]


def window(db: Session, name: str | None, now: dt.datetime) -> Window:
    """The range `name` (or the default) up to `now`, read from its table."""
    key, span, table = pick_range(name)
    start = now - span
    return Window(key, start, now, samples(db, table, start, now))


def events(
    db: Session, *, since: dt.datetime, limit: int = records.MAX_EVENTS
) -> list[ScalingEvent]:
    """Scaling events since `since`, newest first: records.events' order and cap,
    bounded in time in the query (an hour's graph reads an hour's events)."""
    stmt = (
        select(ScalingEvent)
        .where(ScalingEvent.at >= since)
        .order_by(ScalingEvent.at.desc(), ScalingEvent.id.desc())
        .limit(max(1, min(limit, records.MAX_EVENTS)))
    )
    return list(db.scalars(stmt))


def failed(event: ScalingEvent) -> bool:
    """An event whose change did not happen (the worker writes 'error: ...' or 'unknown: ...')."""
    return event.outcome not in ("applied", "dry-run", "pending")
