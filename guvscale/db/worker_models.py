"""What the scaling worker keeps: per-tenant state and leases, records, heartbeats.

The sample tables are partitioned by time (PostgreSQL declarative
partitioning, RANGE on `at`): pruning drops whole partitions. Their
partitions are made and dropped by `guvscale.records.partitions`, not by
migrations, and are named `<table>_p<YYYYMMDDHH>` so Alembic can skip them.
Samples point at a `role_series` row (a small integer) instead of repeating
the resource id and role name in every row: 10,000 roles at 10 s is 86
million rows a day, and every byte of a row counts that often.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from guvscale.db.base import Base
from guvscale.db.models import TenantOwned


class TenantWorkerState(TenantOwned, Base):
    """One row per tenant the worker looks after: its lease, memory and last status.

    `lease_epoch` grows at every claim; a worker writes back only while the
    row still carries its owner and epoch, so a tenant taken over from a slow
    worker is never written (or scaled) by both.
    """

    __tablename__ = "tenant_worker_state"
    __table_args__ = (UniqueConstraint("resource_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[dt.datetime | None]
    lease_epoch: Mapped[int] = mapped_column(default=0)
    last_tick_at: Mapped[dt.datetime | None]
    # Scaler states, counters of the last read, formation cache, Heroku pacing.
    memory: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # What GET /config/{id}/status shows: per role, and the tenant's own error.
    status: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class RoleSeries(TenantOwned, Base):
    """A (tenant, role) pair, numbered so samples stay small."""

    __tablename__ = "role_series"
    __table_args__ = (UniqueConstraint("resource_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(100))


class _Sample:
    series_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    ready: Mapped[int | None] = mapped_column(Integer)
    unacked: Mapped[int | None] = mapped_column(Integer)
    consumers: Mapped[int | None] = mapped_column(Integer)
    publish_rate: Mapped[float | None] = mapped_column(REAL)  # 4 bytes
    ack_rate: Mapped[float | None] = mapped_column(REAL)
    current: Mapped[int | None] = mapped_column(SmallInteger)
    desired: Mapped[int | None] = mapped_column(SmallInteger)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)


class RoleSample(_Sample, Base):
    """One poll of one role (raw, kept 6 hours; hourly partitions)."""

    __tablename__ = "role_samples"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "at"),
        {"postgresql_partition_by": "RANGE (at)"},
    )


class _Rollup(_Sample):
    # Means over the bucket, except current/desired/ready_max (highest seen)
    # and partial (true when any sample in it was).
    samples: Mapped[int] = mapped_column(SmallInteger)
    ready_max: Mapped[int | None] = mapped_column(Integer)


class RoleSampleMinute(_Rollup, Base):
    """One-minute rollups, kept 7 days (daily partitions)."""

    __tablename__ = "role_samples_1m"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "at"),
        {"postgresql_partition_by": "RANGE (at)"},
    )


class RoleSampleTenMinutes(_Rollup, Base):
    """Ten-minute rollups, kept 90 days (daily partitions)."""

    __tablename__ = "role_samples_10m"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "at"),
        {"postgresql_partition_by": "RANGE (at)"},
    )


class ScalingEvent(TenantOwned, Base):
    """A change the worker decided: applied, dry-run, or why it failed.

    Written as `pending` before the PATCH is sent and finished after, so a
    worker dying in between leaves a trace its successor closes.
    """

    __tablename__ = "scaling_events"
    __table_args__ = (
        Index("ix_scaling_events_resource_id_at", "resource_id", "at"),
        # Pruning after 90 days looks rows up by age alone (records/events.py).
        Index("ix_scaling_events_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime]
    role: Mapped[str] = mapped_column(String(100))
    app: Mapped[str] = mapped_column(String(100))
    process_type: Mapped[str] = mapped_column(String(128))
    from_quantity: Mapped[int | None]
    to_quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(300))


class WorkerHeartbeat(Base):
    """One row per worker process: liveness and the counters /metrics shows."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[dt.datetime]
    last_tick_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    ticks: Mapped[int] = mapped_column(BigInteger, default=0)
    tick_seconds_total: Mapped[float] = mapped_column(Float, default=0.0)
    last_tick_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    decisions: Mapped[int] = mapped_column(BigInteger, default=0)
    heroku_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    takeovers: Mapped[int] = mapped_column(BigInteger, default=0)
    lowest_rate_limit_remaining: Mapped[int | None]
    errors: Mapped[dict[str, int]] = mapped_column(JSONB, default=dict)


class RollupMark(Base):
    """How far a rollup has been computed (buckets before `done_until` are final)."""

    __tablename__ = "rollup_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    done_until: Mapped[dt.datetime]
