"""One-minute rollups of raw samples, and ten-minute rollups of those.

A bucket is rolled up once it is complete (LAG after its end, so a tick's
late samples are in); `rollup_marks` remembers how far each rollup got, and
ON CONFLICT DO NOTHING makes a repeated run harmless. Means are weighted by
sample count; current/desired/ready_max keep the highest seen.

Counts are int4 and can be near its top (a tenant's queue of hundreds of
millions): anything multiplied or counted is widened before the arithmetic,
and `samples` (int2) is clamped, so no tenant's numbers can fail a rollup
(the upkeep is shared by every tenant).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Connection, text

from guvscale.records.partitions import MAINTENANCE_LOCK

LAG = dt.timedelta(seconds=30)
MAX_SPAN = dt.timedelta(hours=2)  # per run, so catching up never holds one transaction long

_MINUTE = """
INSERT INTO role_samples_1m (series_id, at, samples, ready, ready_max, unacked, consumers,
    publish_rate, ack_rate, current, desired, partial)
SELECT series_id, date_bin('1 minute', at, TIMESTAMPTZ '2000-01-01'), LEAST(count(*), 32767),
    round(avg(ready)), max(ready), round(avg(unacked)), round(avg(consumers)),
    avg(publish_rate), avg(ack_rate), max(current), max(desired), bool_or(partial)
FROM role_samples WHERE at >= :start AND at < :end
GROUP BY 1, 2
ON CONFLICT DO NOTHING
"""

# Means weighted by each minute's samples, over the minutes that have the
# value: counting those without it (a broker unreadable for a while) in the
# weights read the queue as shorter than it was.
_TEN = """
INSERT INTO role_samples_10m (series_id, at, samples, ready, ready_max, unacked, consumers,
    publish_rate, ack_rate, current, desired, partial)
SELECT series_id, date_bin('10 minutes', at, TIMESTAMPTZ '2000-01-01'), LEAST(sum(samples), 32767),
    round(sum(ready::bigint * samples)::numeric
        / NULLIF(sum(samples) FILTER (WHERE ready IS NOT NULL), 0)),
    max(ready_max),
    round(sum(unacked::bigint * samples)::numeric
        / NULLIF(sum(samples) FILTER (WHERE unacked IS NOT NULL), 0)),
    round(sum(consumers::bigint * samples)::numeric
        / NULLIF(sum(samples) FILTER (WHERE consumers IS NOT NULL), 0)),
    sum(publish_rate * samples) / NULLIF(sum(samples) FILTER (WHERE publish_rate IS NOT NULL), 0),
    sum(ack_rate * samples) / NULLIF(sum(samples) FILTER (WHERE ack_rate IS NOT NULL), 0),
    max(current), max(desired), bool_or(partial)
FROM role_samples_1m WHERE at >= :start AND at < :end
GROUP BY 1, 2
ON CONFLICT DO NOTHING
"""

ROLLUPS = (
    ("1m", _MINUTE, dt.timedelta(minutes=1), dt.timedelta(hours=6)),
    ("10m", _TEN, dt.timedelta(minutes=10), dt.timedelta(days=7)),
)


def _floor(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    seconds = step.total_seconds()
    return dt.datetime.fromtimestamp(moment.timestamp() // seconds * seconds, dt.UTC)


def run(conn: Connection, now: dt.datetime) -> int:
    """Roll up every complete bucket not yet done; returns rows written.

    Runs inside partitions.maintain's advisory lock when called right after
    it; takes the lock itself otherwise.
    """
    if not conn.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": MAINTENANCE_LOCK}
    ).scalar():
        return 0
    written = 0
    for name, sql, step, source_keep in ROLLUPS:
        end = _floor(now - LAG, step)
        mark = conn.execute(
            text("SELECT done_until FROM rollup_marks WHERE name = :n"), {"n": name}
        ).scalar()
        start = mark or _floor(now - source_keep, step)
        if start >= end:
            continue
        end = min(end, start + MAX_SPAN)
        written += conn.execute(text(sql), {"start": start, "end": end}).rowcount
        conn.execute(
            text(
                "INSERT INTO rollup_marks (name, done_until) VALUES (:n, :e) "
                "ON CONFLICT (name) DO UPDATE SET done_until = :e"
            ),
            {"n": name, "e": end},
        )
    return written
