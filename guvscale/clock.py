"""The package's one clock.

Wall-clock time is always an aware UTC datetime; `monotonic` is for measuring
durations and timeouts within one process. Code that decides takes `now` as a
value; only the edges (loops, routes, adapters) read this module, so tests
can pass their own time instead of patching.
"""

from __future__ import annotations

import datetime as dt
import time


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def monotonic() -> float:
    return time.monotonic()


def epoch(moment: dt.datetime) -> float:
    """Seconds since 1970 of an aware datetime: the scaling model's clock."""
    return moment.timestamp()
