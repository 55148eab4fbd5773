"""Preview: the draft and the saved rules simulated side by side on one workload. Pure.

The workload is this app's recorded traffic (publish rates per poll, as the
worker stored them) when the role has some, else a public trace scaled to
the role's capacity. Both sides of a role see the very same jobs (one seed),
so the difference is the rules' alone. Long recordings are cut to their
last `MAX_JOBS` jobs so a preview answers within a request.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from guvscale.rules.types import Role
from guvscale.simulate import draw_durations, public, run
from guvscale.simulate.engine import SimConfig
from guvscale.simulate.metrics import SimResult
from guvscale.simulate.policies import scaler

MAX_JOBS = 60_000
PUBLIC_TRACE = "spiky"
PUBLIC_LOAD = 0.3  # the public trace's mean rate, as a share of the role's capacity
SEED = 0


@dataclass(frozen=True)
class Traffic:
    """Recorded publish rates of one role: (unix seconds, jobs/s) per poll, oldest first."""

    rates: Sequence[tuple[float, float | None]]
    end: float  # the rate of the last point holds until here
    initial: int | None = None  # dynos running at the first point


@dataclass(frozen=True)
class Workload:
    source: str  # what a user reads: where the jobs come from
    start: float  # unix seconds of t = 0
    arrivals: list[float]
    initial: int | None


@dataclass(frozen=True)
class Side:
    result: SimResult
    misses: int  # jobs that missed the deadline (or never finished)

    @property
    def workers(self) -> list[tuple[float, int]]:
        s = self.result.series
        return list(zip(s.t, s.requested, strict=True))


@dataclass(frozen=True)
class RolePreview:
    role: str
    workload: Workload
    draft: Side | None  # None: the role is not in that version
    saved: Side | None


def _recorded(traffic: Traffic, rng: random.Random) -> tuple[float, list[float]]:
    """Poisson arrivals at the recorded rates, cut to the last MAX_JOBS jobs."""
    points = [(t, r) for t, r in traffic.rates if r is not None and r >= 0]
    if not points:
        return traffic.end, []
    bounds = [*(t for t, _ in points[1:]), traffic.end]
    # Walk back from the end until the expected jobs reach the cap.
    expected, first = 0.0, len(points)
    for i in range(len(points) - 1, -1, -1):
        expected += points[i][1] * max(0.0, bounds[i] - points[i][0])
        if expected > MAX_JOBS:
            break
        first = i
    first = min(first, len(points) - 1)
    start = points[first][0]
    arrivals: list[float] = []
    for (t, rate), t_end in zip(points[first:], bounds[first:], strict=True):
        if rate <= 0:
            continue
        at = t + rng.expovariate(rate)
        while at < t_end and len(arrivals) < MAX_JOBS:
            arrivals.append(at - start)
            at += rng.expovariate(rate)
    return start, arrivals


def workload(role: Role, traffic: Traffic | None, now: float) -> Workload:
    rng = random.Random(f"preview:{role.name}:{SEED}")  # noqa: S311 - a simulation
    if traffic is not None:
        start, arrivals = _recorded(traffic, rng)
        if arrivals:
            hours = (traffic.end - start) / 3600
            return Workload(
                f"this app's recorded traffic, last {hours:.1f} h",
                start,
                arrivals,
                traffic.initial,
            )
    trace = public(PUBLIC_TRACE, SEED)
    capacity = role.maximum * role.concurrency / role.processing  # jobs/s at the maximum
    mean_rate = len(trace.arrivals) / trace.length
    # The whole trace, never cut: a lighter load rather than a shorter day.
    scale = min(PUBLIC_LOAD * capacity / mean_rate, MAX_JOBS / len(trace.arrivals))
    trace = public(PUBLIC_TRACE, SEED, scale)
    load = scale * mean_rate / capacity
    source = (
        f"public trace '{PUBLIC_TRACE}' ({trace.length / 3600:.0f} h, {load:.0%} of this "
        "role's capacity on average): no traffic recorded for it yet"
    )
    return Workload(source, now - trace.length, trace.arrivals[:MAX_JOBS], None)


def simulate(role: Role, load: Workload) -> Side:
    cv = role.stddev / role.processing if role.processing > 0 else 0.0
    durations = draw_durations(len(load.arrivals), role.processing, cv, SEED)
    initial = None
    if load.initial is not None:
        initial = min(max(load.initial, role.minimum), role.maximum)
    config = SimConfig(epoch=dt.datetime.fromtimestamp(load.start, dt.UTC), initial=initial)
    result = run(scaler(role), role, load.arrivals, durations, seed=SEED, config=config)
    misses = round(result.jobs * (1.0 - result.within)) if result.jobs else 0
    return Side(result, misses)


def preview(
    draft: Mapping[str, Role],
    saved: Mapping[str, Role],
    traffic: Mapping[str, Traffic],
    now: float,
) -> list[RolePreview]:
    """One entry per role of the draft, then roles only the saved rules have."""
    out: list[RolePreview] = []
    for name in [*draft, *(n for n in saved if n not in draft)]:
        # The rules in force size a public trace, so a draft cannot shrink its own test.
        role = saved.get(name) or draft[name]
        load = workload(role, traffic.get(name), now)
        out.append(
            RolePreview(
                name,
                load,
                simulate(draft[name], load) if name in draft else None,
                simulate(saved[name], load) if name in saved else None,
            )
        )
    return out


def finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
