"""Time partitions of the sample tables: made ahead of need, dropped when too old.

Retention is by whole partitions: dropping one is a catalogue change, where
deleting 86 million rows a day would be vacuum's full-time job.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
_SUFFIX = re.compile(r"_p(\d{10})$")
# Any constant; it only has to be the same in every worker.
MAINTENANCE_LOCK = 0x6775_7673


@dataclass(frozen=True)
class Retention:
    table: str
    step: dt.timedelta  # one partition's span
    keep: dt.timedelta  # rows older than this may go
    ahead: dt.timedelta  # partitions made this far into the future


RETENTION = (
    Retention("role_samples", HOUR, dt.timedelta(hours=6), dt.timedelta(hours=3)),
    Retention("role_samples_1m", DAY, dt.timedelta(days=7), dt.timedelta(days=2)),
    Retention("role_samples_10m", DAY, dt.timedelta(days=90), dt.timedelta(days=2)),
)


def is_partition_name(name: str) -> bool:
    return _SUFFIX.search(name) is not None


def partition_name(table: str, start: dt.datetime) -> str:
    return f"{table}_p{start.astimezone(dt.UTC):%Y%m%d%H}"


def floor_to(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    moment = moment.astimezone(dt.UTC)
    if step >= DAY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(minute=0, second=0, microsecond=0)


def existing(conn: Connection, table: str) -> dict[str, dt.datetime]:
    """This table's partitions: name -> start."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = :table"
        ),
        {"table": table},
    ).scalars()
    found = {}
    for name in rows:
        match = _SUFFIX.search(name)
        if match:
            found[name] = dt.datetime.strptime(match.group(1), "%Y%m%d%H").replace(tzinfo=dt.UTC)
    return found


def maintain(conn: Connection, now: dt.datetime) -> tuple[list[str], list[str]]:
    """Make the partitions `now` needs, drop those past retention: (created, dropped).

    Serialised across workers by a transaction-level advisory lock; a worker
    that does not get it skips (another is doing the same work).
    """
    if not conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": MAINTENANCE_LOCK}
    ).scalar():
        return [], []
    created: list[str] = []
    dropped: list[str] = []
    for r in RETENTION:
        have = existing(conn, r.table)
        start = floor_to(now, r.step) - r.step  # a late sample of the last span still fits
        while start <= now + r.ahead:
            name = partition_name(r.table, start)
            if name not in have:
                # Names and bounds are ours (no user input): DDL takes no parameters.
                bounds = (
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + r.step).isoformat()}')"
                )
                conn.execute(
                    text(f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF "{r.table}" ' + bounds)
                )
                created.append(name)
            start += r.step
        for name, begun in have.items():
            if begun + r.step <= now - r.keep:
                conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
                dropped.append(name)
    return created, dropped
