"""The scenario suite's workloads: families of randomized, seeded traces.

Each family draws its own parameters (rates, burst sizes and times, deadline
15-900 s, boot 10-90 s, processing 0.05-120 s, concurrency 1-50, minimum and
maximum) from a stream named by (family, seed), so a scenario is the same on
every machine, and the development and held-out seed sets never share one.
Loads are drawn relative to what the maximum can serve (`a` = busy dynos'
worth), so most scenarios are possible to meet and some are not: the suite
judges both. Workloads are kept under an hour and ~20,000 jobs, for speed.
Consumers hold only the jobs they run (`Trace.prefetch` 1), except in
`prefetch`, which draws the workloads of three other families for consumers
that hoard jobs as Celery's do.

The poll interval is not part of a scenario: the suite runs each at 10, 15,
30 and 60 s (`with_poll`).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable

from guvscale.simulate.traces import Trace, _poisson

MAX_JOBS = 20_000


@dataclasses.dataclass(frozen=True)
class Scenario:
    family: str
    index: int
    trace: Trace

    @property
    def name(self) -> str:
        return f"{self.family}-{self.index}"


def with_poll(trace: Trace, pollinterval: float) -> Trace:
    return dataclasses.replace(trace, pollinterval=pollinterval)


class _Draw:
    """The random parameters one scenario is made of."""

    def __init__(self, family: str, seed: int) -> None:
        self.rng = random.Random(f"scenario:{family}:{seed}")  # noqa: S311 - a simulation

    def log_uniform(self, lo: float, hi: float) -> float:
        return math.exp(self.rng.uniform(math.log(lo), math.log(hi)))

    def job(self, lo: float = 0.05, hi: float = 20.0) -> tuple[float, float]:
        """(mean job time, cv)."""
        return self.log_uniform(lo, hi), self.rng.uniform(0.3, 0.8)

    def role(self, p: float, lo_deadline: float = 15.0) -> dict[str, float | int]:
        """deadline, concurrency, minimum, maximum, boot for jobs of mean p."""
        rng = self.rng
        deadline = self.log_uniform(max(lo_deadline, 4 * p + 5), 900.0)
        deadline = min(900.0, deadline)
        return {
            "deadline": round(deadline),
            "concurrency": rng.choice([1, 2, 4, 5, 8, 10, 20, 50]),
            "minimum": rng.choice([0, 0, 0, 1, 1, 2]),
            "maximum": rng.choice([4, 8, 10, 16, 20, 30, 40]),
            "boot": round(rng.uniform(10.0, 90.0)),
        }


def _trace(
    family: str,
    arrivals: list[float],
    p: float,
    cv: float,
    r: dict[str, float | int],
    length: float,
) -> Trace:
    arrivals = sorted(arrivals)[:MAX_JOBS] or [length / 2]
    minimum, maximum = int(r["minimum"]), int(r["maximum"])
    return Trace(
        family,
        arrivals,
        p,
        cv,
        float(r["deadline"]),
        int(r["concurrency"]),
        min(minimum, maximum),
        maximum,
        boot=float(r["boot"]),
        length=length,
    )


def _rate_for(d: _Draw, p: float, r: dict[str, float | int], lo: float, hi: float) -> float:
    """A publish rate that keeps a share in [lo, hi] of the maximum busy."""
    capacity = int(r["maximum"]) * int(r["concurrency"]) / p  # jobs/s
    return min(capacity * d.rng.uniform(lo, hi), MAX_JOBS / 3600.0)


def _bulk(at: float, size: int, rate: float) -> list[float]:
    return [at + i / rate for i in range(size)]


def steady(seed: int) -> Trace:
    return _steady(_Draw("steady", seed), "steady")


def _steady(d: _Draw, family: str) -> Trace:
    p, cv = d.job()
    r = d.role(p)
    rate = _rate_for(d, p, r, 0.05, 0.8)
    length = d.rng.uniform(1200.0, 3600.0)
    return _trace(family, _poisson(d.rng, lambda t: rate, 0.0, length, length), p, cv, r, length)


def diurnal(seed: int) -> Trace:
    d = _Draw("diurnal", seed)
    p, cv = d.job()
    r = d.role(p)
    peak = _rate_for(d, p, r, 0.3, 0.85)
    base = peak * d.rng.uniform(0.0, 0.2)
    period = d.rng.uniform(1800.0, 3600.0)

    def rate(t: float) -> float:
        return base + (peak - base) * (1.0 - math.cos(2 * math.pi * t / period)) / 2.0

    return _trace("diurnal", _poisson(d.rng, rate, 0.0, period, 10.0), p, cv, r, period)


def bulk(seed: int) -> Trace:
    """Imports of any size, rate and spacing over a thin stream."""
    return _bulk_imports(_Draw("bulk", seed), "bulk")


def _bulk_imports(d: _Draw, family: str) -> Trace:
    p, cv = d.job(0.05, 5.0)
    r = d.role(p, lo_deadline=60.0)
    length = d.rng.uniform(1800.0, 3600.0)
    base = _rate_for(d, p, r, 0.0, 0.2)
    arr = _poisson(d.rng, lambda t: base, 0.0, length, length)
    capacity_in_deadline = int(r["maximum"]) * int(r["concurrency"]) / p * float(r["deadline"])
    for _ in range(d.rng.randint(1, 6)):
        size = int(min(MAX_JOBS / 6, capacity_in_deadline * d.rng.uniform(0.05, 0.9)))
        arr += _bulk(d.rng.uniform(0.0, length * 0.8), max(1, size), d.log_uniform(50, 2000))
    return _trace(family, arr, p, cv, r, length)


def spanning(seed: int) -> Trace:
    """Imports published across a poll boundary (every interval's boundaries
    include the whole minutes), then smaller imports one dyno clears."""
    d = _Draw("spanning", seed)
    p, cv = d.job(0.05, 2.0)
    r = d.role(p, lo_deadline=120.0)
    length = 3600.0
    arr: list[float] = []
    capacity_in_deadline = int(r["maximum"]) * int(r["concurrency"]) / p * float(r["deadline"])
    one_dyno = int(r["concurrency"]) / p * float(r["deadline"])
    rate = d.rng.uniform(200.0, 800.0)
    for _ in range(d.rng.randint(1, 3)):
        size = int(min(4000, capacity_in_deadline * d.rng.uniform(0.2, 0.8)))
        start = 60.0 * d.rng.randint(1, 50) - size / rate / 2
        arr += _bulk(max(0.0, start), max(1, size), rate)
    for _ in range(d.rng.randint(2, 6)):
        size = int(min(2000, one_dyno * d.rng.uniform(0.2, 0.6)))
        arr += _bulk(d.rng.uniform(0.0, length), max(1, size), rate)
    return _trace("spanning", arr, p, cv, r, length)


def onoff(seed: int) -> Trace:
    return _onoff(_Draw("onoff", seed), "onoff")


def _onoff(d: _Draw, family: str) -> Trace:
    p, cv = d.job()
    r = d.role(p)
    rate = _rate_for(d, p, r, 0.2, 0.9)
    period = d.rng.uniform(600.0, 1800.0)
    on = period * d.rng.uniform(0.1, 0.5)

    def fn(t: float) -> float:
        return rate if t % period < on else 0.0

    length = 3 * period
    return _trace(family, _poisson(d.rng, fn, 0.0, length, 5.0), p, cv, r, length)


def ramp(seed: int) -> Trace:
    d = _Draw("ramp", seed)
    p, cv = d.job()
    r = d.role(p)
    top = _rate_for(d, p, r, 0.3, 0.85)
    low = top * d.rng.uniform(0.0, 0.2)
    up, hold = d.rng.uniform(120.0, 1200.0), d.rng.uniform(300.0, 1200.0)
    down = d.rng.uniform(120.0, 1200.0)

    def fn(t: float) -> float:
        if t < up:
            return low + (top - low) * t / up
        if t < up + hold:
            return top
        return max(low, top - (top - low) * (t - up - hold) / down)

    length = up + hold + down
    return _trace("ramp", _poisson(d.rng, fn, 0.0, length, 5.0), p, cv, r, length)


def heavytail(seed: int) -> Trace:
    """A stream with a few imports, job times of cv 0.3-3."""
    d = _Draw("heavytail", seed)
    p, _ = d.job(0.05, 60.0)
    cv = d.log_uniform(0.3, 3.0)
    r = d.role(p, lo_deadline=30.0)
    length = d.rng.uniform(1800.0, 3600.0)
    rate = _rate_for(d, p, r, 0.05, 0.6)
    arr = _poisson(d.rng, lambda t: rate, 0.0, length, length)
    capacity_in_deadline = int(r["maximum"]) * int(r["concurrency"]) / p * float(r["deadline"])
    for _ in range(d.rng.randint(0, 3)):
        size = int(min(3000, capacity_in_deadline * d.rng.uniform(0.05, 0.5)))
        arr += _bulk(d.rng.uniform(0.0, length * 0.8), max(1, size), d.log_uniform(50, 1000))
    return _trace("heavytail", arr, p, cv, r, length)


def slow(seed: int) -> Trace:
    d = _Draw("slow", seed)
    p, cv = d.job(20.0, 120.0)
    r = d.role(p)
    r["concurrency"] = d.rng.choice([1, 1, 2, 4])
    r["deadline"] = round(d.rng.uniform(max(300.0, 5 * p), 900.0))
    rate = _rate_for(d, p, r, 0.1, 0.8)
    length = 3600.0

    def fn(t: float) -> float:
        return rate * (0.5 + 0.5 * math.sin(2 * math.pi * t / 1800.0))

    return _trace("slow", _poisson(d.rng, fn, 0.0, length, 10.0), p, cv, r, length)


def shortdeadline(seed: int) -> Trace:
    """Deadline no longer than the boot: a steady rate with minutes of 3-8x load."""
    d = _Draw("shortdeadline", seed)
    p, cv = d.job(0.05, 2.0)
    r = d.role(p)
    r["boot"] = round(d.rng.uniform(30.0, 90.0))
    r["deadline"] = round(d.rng.uniform(max(15.0, 6 * p), float(r["boot"])))
    r["minimum"] = d.rng.choice([1, 2])
    base = _rate_for(d, p, r, 0.03, 0.12)
    length = 3600.0
    bursts = [(d.rng.uniform(0, length - 300), d.rng.uniform(60, 240)) for _ in range(3)]
    factor = d.rng.uniform(3.0, 8.0)

    def fn(t: float) -> float:
        return base * (factor if any(s <= t < s + w for s, w in bursts) else 1.0)

    return _trace("shortdeadline", _poisson(d.rng, fn, 0.0, length, 5.0), p, cv, r, length)


def sparse(seed: int) -> Trace:
    """A few jobs an hour."""
    d = _Draw("sparse", seed)
    p, cv = d.job(0.5, 60.0)
    r = d.role(p)
    r["minimum"] = 0
    per_hour = d.rng.uniform(2.0, 12.0)
    length = 7200.0
    arr = _poisson(d.rng, lambda t: per_hour / 3600.0, 0.0, length, length)
    return _trace("sparse", arr, p, cv, r, length)


def prefetch(seed: int) -> Trace:
    """Celery-like consumers: each dyno holds concurrency x 2, 4 or 8 jobs
    (4 twice as often: Celery's default multiplier) and runs concurrency of
    them, on a steady stream, imports over a thin stream, or on/off, drawn as
    those families draw them. Jobs a busy dyno has taken wait behind its
    running ones, and a dyno that lands later cannot take them."""
    d = _Draw("prefetch", seed)
    shape = d.rng.choice([_steady, _bulk_imports, _onoff])
    multiplier = d.rng.choice([2, 4, 4, 8])
    return dataclasses.replace(shape(d, "prefetch"), prefetch=multiplier)


FAMILIES: dict[str, Callable[[int], Trace]] = {
    "steady": steady,
    "diurnal": diurnal,
    "bulk": bulk,
    "spanning": spanning,
    "onoff": onoff,
    "ramp": ramp,
    "heavytail": heavytail,
    "slow": slow,
    "shortdeadline": shortdeadline,
    "sparse": sparse,
    "prefetch": prefetch,
}

# Seed sets: develop on one, report on the others too. Disjoint by construction.
# The fresh one (`bench/suite.py --fresh`) is never used to choose a variant.
DEV_BASE, HELD_OUT_BASE, FRESH_BASE = 0, 100_000, 200_000


def scenarios(per_family: int, held_out: bool = False) -> list[Scenario]:
    base = HELD_OUT_BASE if held_out else DEV_BASE
    return [
        Scenario(family, i, make(base + i))
        for family, make in FAMILIES.items()
        for i in range(per_family)
    ]
