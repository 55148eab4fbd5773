"""Scaling events are kept 90 days, like the ten-minute rollups.

The table is small next to the samples (a row per change, not per tick), so
it is pruned by rows, a bounded batch per run on the index on `at`, in the
same once-a-minute upkeep and under the same advisory lock as the rollups.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from guvscale.records.partitions import MAINTENANCE_LOCK

KEEP = dt.timedelta(days=90)
BATCH = 20_000  # rows per run: keeps the transaction short while catching up

_PRUNE = text(
    "DELETE FROM scaling_events WHERE id IN "
    "(SELECT id FROM scaling_events WHERE at < :cutoff LIMIT :n)"
)


def prune(conn: Connection, now: dt.datetime) -> int:
    """Delete up to BATCH events older than KEEP; returns how many went."""
    if not conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": MAINTENANCE_LOCK}
    ).scalar():
        return 0
    return conn.execute(_PRUNE, {"cutoff": now - KEEP, "n": BATCH}).rowcount
