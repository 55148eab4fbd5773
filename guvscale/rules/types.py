"""The resolved form of a role: what the parser returns and the model reads.

Pure values, no I/O. Every field is filled in (defaults applied, short names
mapped, the target derived) so nothing downstream re-reads the YAML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo

ModelName = Literal["guvscale", "guv"]


@dataclass(frozen=True)
class Step:
    """dynomatic-style: run `dynos` once the backlog reaches `at_least` jobs."""

    at_least: int
    dynos: int


@dataclass(frozen=True)
class ScheduleWindow:
    """Bounds that replace minimum/maximum on `days` between `start` and `end`.

    days: ISO weekdays 1 (Monday) .. 7 (Sunday). A window whose end is not
    after its start runs past midnight into the next day.
    """

    days: frozenset[int]
    start: dt.time
    end: dt.time
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Role:
    name: str
    worker: str  # Heroku process type
    queue: str
    app: str | None = None  # None: the add-on's own app
    processing: float = 10.0  # s, mean job time
    stddev: float = 5.0  # s
    deadline: float = 60.0  # s from publish
    percentile: float = 99.0  # % of jobs that must meet the deadline
    target: float = 0.0  # s, derived unless given (see rules.derive_target)
    concurrency: int = 1
    minimum: int = 1
    maximum: int = 5
    boot: float = 30.0  # s from scale request to consuming
    dynosize: str = "standard-1x"
    pollinterval: float = 30.0
    history: float = 120.0
    model: ModelName = "guvscale"
    steps: tuple[Step, ...] = ()
    # Eco/Basic dynos: each process type runs 0 or 1 dyno; filled in order.
    workers: tuple[str, ...] = ()
    schedule: tuple[ScheduleWindow, ...] = ()
    timezone: str = "UTC"
    # Source line of the role's block, for messages that point back at the YAML.
    line: int | None = field(default=None, compare=False)

    def bounds_at(self, now: dt.datetime) -> tuple[int, int]:
        """(minimum, maximum) in force at `now` (aware datetime), schedule applied."""
        local = now.astimezone(ZoneInfo(self.timezone))
        today, yesterday = local.isoweekday(), (local.isoweekday() - 2) % 7 + 1
        t = local.time()
        for w in self.schedule:
            overnight = w.end <= w.start
            if not overnight:
                active = today in w.days and w.start <= t < w.end
            else:
                active = (today in w.days and t >= w.start) or (yesterday in w.days and t < w.end)
            if active:
                lo = self.minimum if w.minimum is None else w.minimum
                hi = self.maximum if w.maximum is None else w.maximum
                return lo, max(lo, hi)
        return self.minimum, self.maximum
