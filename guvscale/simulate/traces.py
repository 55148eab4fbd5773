"""Workloads for the simulator: the six public traces and a CSV loader.

A trace is the publish times of its jobs, how long its jobs take (a lognormal
with `mean` and `cv`, or each job's own duration from a CSV) and the role
settings the benchmark runs it with. Generators are pure and seeded: the same
(seed, scale) always gives the same arrivals. `scale` multiplies every rate and
burst size, so x0.5 and x2 variants check that a model is tuned to the shape
of a load and not to its exact numbers.

Durations chosen for the public traces (scaling.md section 5 gives the shapes):

| trace | length | jobs (seed 0, scale 1) |
|---|---|---|
| burst3k | one burst at t = 0 | 3,000 |
| steady | 1 h of Poisson 30/s | ~108,000 |
| diurnal | 2 h, rate 2 → 120 → 2/s (one cosine cycle) | ~440,000 |
| spiky | 3 h of 2/s plus 8 imports of 500-4,000 jobs, each published at 1,000/s | ~35,000 |
| onoff | 3 h: 25/s for the first 5 min of every 30 min | ~45,000 |
| slowjobs | 4 h, rate 0.5 + 0.45 sin(2πt / 1 h) | ~7,200 |
"""

from __future__ import annotations

import csv
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

from guvscale.rules.types import Role


class TraceError(ValueError):
    """A workload that cannot be simulated; the message names the line."""


def derived_target(deadline: float, percentile: float, stddev: float, processing: float) -> float:
    """guv's target: the deadline less z·stddev, and never at or below one job's time."""
    z = NormalDist().inv_cdf(percentile / 100.0)
    target = deadline - z * stddev
    return target if target > processing else processing + 0.01


@dataclass(frozen=True, eq=False)
class Trace:
    name: str
    arrivals: list[float]  # publish times, seconds, sorted
    mean: float  # s, mean job time
    cv: float  # coefficient of variation of job time
    deadline: float
    concurrency: int
    minimum: int
    maximum: int
    percentile: float = 99.0
    boot: float = 30.0
    pollinterval: float = 30.0
    length: float = 0.0  # s of the generation window (arrivals fall inside it)
    durations: list[float] | None = None  # per-job times (CSV); None: draw lognormal
    # Prefetch multiplier: a consuming dyno holds up to concurrency x prefetch
    # unacked jobs and runs concurrency of them; the rest wait in its buffer,
    # out of other dynos' reach (Celery's default is 4). 1: every job held runs.
    prefetch: int = 1

    def role(self, misstated: float = 1.0) -> Role:
        """The role the benchmark scales this trace with: processing = the job
        mean, or `misstated` times it (a user's guess; the jobs are unchanged)."""
        mean = self.mean * misstated
        stddev = self.cv * mean
        return Role(
            name=self.name,
            worker=self.name,
            queue=self.name,
            processing=mean,
            stddev=stddev,
            deadline=self.deadline,
            percentile=self.percentile,
            target=derived_target(self.deadline, self.percentile, stddev, mean),
            concurrency=self.concurrency,
            minimum=self.minimum,
            maximum=self.maximum,
            boot=self.boot,
            pollinterval=self.pollinterval,
        )


# -- arrival processes -------------------------------------------------------


def _poisson(
    rng: random.Random, rate: Callable[[float], float], start: float, end: float, step: float = 1.0
) -> list[float]:
    """Poisson arrivals with a rate that changes slowly: constant within each `step`.

    Exact for a piecewise-constant rate because the process is memoryless: a
    gap that overshoots a slot is dropped and drawing restarts at the slot end.
    """
    out: list[float] = []
    append, expo = out.append, rng.expovariate
    t0 = start
    while t0 < end:
        t1 = min(t0 + step, end)
        r = rate((t0 + t1) / 2)
        if r > 0:
            t = t0 + expo(r)
            while t < t1:
                append(t)
                t += expo(r)
        t0 = t1
    return out


def _rng(name: str, seed: int) -> random.Random:
    # A string seed is hashed with SHA-512: stable across runs and platforms.
    return random.Random(f"{name}:{seed}")  # noqa: S311 - a simulation, not secrets


def burst3k(seed: int = 0, scale: float = 1.0) -> Trace:
    """3,000 jobs published at once at t = 0, the instant of the first poll.

    The headline (0 -> 25 -> 0 in 240 s, all jobs within 180 s) leaves no room
    for a late first look: 1 s + boot up to 39 s + 120 s of work at 25 dynos.
    """
    n = max(1, round(3000 * scale))
    return Trace("burst3k", [0.0] * n, 1.0, 0.3, 180.0, 1, 0, 25, length=0.0)


def steady(seed: int = 0, scale: float = 1.0) -> Trace:
    """Poisson 30/s for one hour."""
    rng = _rng("steady", seed)
    arr = _poisson(rng, lambda t: 30.0 * scale, 0.0, 3600.0, step=3600.0)
    return Trace("steady", arr, 0.3, 0.5, 60.0, 10, 0, 20, length=3600.0)


def diurnal(seed: int = 0, scale: float = 1.0) -> Trace:
    """One 2 h cosine cycle from 2/s up to 120/s and back."""
    rng, period = _rng("diurnal", seed), 7200.0

    def rate(t: float) -> float:
        return scale * (2.0 + 118.0 * (1.0 - math.cos(2 * math.pi * t / period)) / 2.0)

    arr = _poisson(rng, rate, 0.0, period)
    return Trace("diurnal", arr, 0.5, 0.6, 120.0, 5, 1, 40, length=period)


def spiky(seed: int = 0, scale: float = 1.0) -> Trace:
    """2/s for 3 h, plus 8 bulk imports of 500-4,000 jobs published at 1,000/s."""
    length = 10800.0
    arr = _poisson(_rng("spiky", seed), lambda t: 2.0 * scale, 0.0, length, step=length)
    # Own stream, so a scaled variant has its imports at the same times.
    imports = _rng("spiky-imports", seed)
    for _ in range(8):
        start = imports.uniform(300.0, length - 1800.0)
        size = max(1, round(imports.randint(500, 4000) * scale))
        arr.extend(start + i / 1000.0 for i in range(size))
    arr.sort()
    return Trace("spiky", arr, 1.0, 0.8, 300.0, 8, 0, 30, length=length)


def onoff(seed: int = 0, scale: float = 1.0) -> Trace:
    """25/s for the first 5 minutes of every 30, for 3 h."""
    rng, length = _rng("onoff", seed), 10800.0

    def rate(t: float) -> float:
        return 25.0 * scale if t % 1800.0 < 300.0 else 0.0

    arr = _poisson(rng, rate, 0.0, length, step=300.0)
    return Trace("onoff", arr, 2.0, 0.4, 240.0, 4, 0, 30, length=length)


def slowjobs(seed: int = 0, scale: float = 1.0) -> Trace:
    """Minute-long jobs at 0.05-0.95/s following an hourly sine, for 4 h."""
    rng, length = _rng("slowjobs", seed), 14400.0

    def rate(t: float) -> float:
        return scale * (0.5 + 0.45 * math.sin(2 * math.pi * t / 3600.0))

    arr = _poisson(rng, rate, 0.0, length, step=10.0)
    return Trace("slowjobs", arr, 60.0, 0.5, 600.0, 2, 0, 40, length=length)


PUBLIC: dict[str, Callable[[int, float], Trace]] = {
    "burst3k": burst3k,
    "steady": steady,
    "diurnal": diurnal,
    "spiky": spiky,
    "onoff": onoff,
    "slowjobs": slowjobs,
}


def public(name: str, seed: int = 0, scale: float = 1.0) -> Trace:
    try:
        make = PUBLIC[name]
    except KeyError:
        raise TraceError(f"unknown trace {name!r}; public traces: {', '.join(PUBLIC)}") from None
    return make(seed, scale)


# -- CSV ---------------------------------------------------------------------


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TraceError(f"{where}: {what} {text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise TraceError(f"{where}: {what} {text.strip()!r} is not a finite number")
    return value


def parse_csv(text: str, source: str = "<csv>") -> tuple[list[float], list[float] | None]:
    """Publish times (and optional durations) from CSV text, sorted by time.

    Either one number per line (optionally a second: the job's duration), or
    a header row naming a `t` column and optionally a `duration` column (other
    columns are ignored). Blank lines and lines starting with `#` are skipped.
    Times are seconds from the start of the trace and must be >= 0; durations
    must be > 0 and given for every job or for none.
    """
    rows = [
        (n, row)
        for n, row in enumerate(csv.reader(io.StringIO(text)), start=1)
        if row and any(c.strip() for c in row) and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise TraceError(f"{source}: no jobs: the file holds no publish times")
    t_col, d_col = 0, 1
    first_line, first = rows[0]
    if not _is_number(first[0]):
        header = [c.strip().lower() for c in first]
        if "t" not in header:
            raise TraceError(
                f"{source}:{first_line}: the header needs a 't' column (publish time, s); "
                f"found {', '.join(header)}"
            )
        t_col = header.index("t")
        d_col = header.index("duration") if "duration" in header else -1
        rows = rows[1:]
        if not rows:
            raise TraceError(f"{source}: no jobs: the file holds only a header")
    elif len(first) > 2:
        raise TraceError(
            f"{source}:{first_line}: {len(first)} columns without a header; "
            "give one time per line, 't,duration', or a header row"
        )
    jobs: list[tuple[float, float | None]] = []
    for line, row in rows:
        where = f"{source}:{line}"
        if t_col >= len(row):
            raise TraceError(f"{where}: missing the publish time")
        t = _number(row[t_col], "publish time", where)
        if t < 0:
            raise TraceError(f"{where}: publish time {t:g} is negative")
        d: float | None = None
        if 0 <= d_col < len(row) and row[d_col].strip():
            d = _number(row[d_col], "duration", where)
            if d <= 0:
                raise TraceError(f"{where}: duration {d:g} must be above 0 s")
        jobs.append((t, d))
    given = sum(d is not None for _, d in jobs)
    if 0 < given < len(jobs):
        missing = next(line for (line, _), (_, d) in zip(rows, jobs, strict=True) if d is None)
        raise TraceError(
            f"{source}:{missing}: duration missing; give a duration for every job or for none"
        )
    jobs.sort(key=lambda j: j[0])
    arrivals = [t for t, _ in jobs]
    if arrivals[-1] > MAX_SPAN:
        # Simulated poll by poll from 0, Unix times (1.7e9 s) ran 57 million
        # polls with no word said.
        start = arrivals[0]
        hint = (
            f"they look like clock times: subtract the first ({start:g})"
            if arrivals[-1] - start <= MAX_SPAN
            else f"a trace spans at most {MAX_SPAN / 86400:g} days"
        )
        raise TraceError(
            f"{source}: publish times run to {arrivals[-1]:g} s; give seconds from the "
            f"trace's start ({hint})"
        )
    durations = [d for _, d in jobs if d is not None] if given else None
    return arrivals, durations


# The longest trace simulated, s: a month of polls is a few minutes' work.
MAX_SPAN = 31 * 86400.0


def load_csv(path: str | Path, role: Role) -> Trace:
    """A trace from a CSV file; its settings (and, without durations, job times) are the role's."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise TraceError(f"{p}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise TraceError(f"{p}: not a UTF-8 text file") from None
    arrivals, durations = parse_csv(text, str(p))
    return Trace(
        name=p.stem,
        arrivals=arrivals,
        mean=role.processing,
        cv=role.stddev / role.processing if role.processing > 0 else 0.0,
        deadline=role.deadline,
        concurrency=role.concurrency,
        minimum=role.minimum,
        maximum=role.maximum,
        percentile=role.percentile,
        boot=role.boot,
        pollinterval=role.pollinterval,
        length=arrivals[-1],
        durations=durations,
    )
