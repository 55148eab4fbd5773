"""The figures of one simulated run, and how they print."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Series:
    """One sample per poll, for plotting."""

    t: list[float] = field(default_factory=list)
    queue: list[int] = field(default_factory=list)  # ready + unacked
    requested: list[int] = field(default_factory=list)  # formation quantity
    running: list[int] = field(default_factory=list)  # dynos consuming


@dataclass(frozen=True)
class SimResult:
    jobs: int
    done: int  # finished by the end of the run
    within: float  # share of all jobs finished within the deadline, from publish (0..1)
    p50: float  # s latency, publish to finish; inf when that many jobs never finished
    p99: float
    dyno_hours: float  # billed, from scale request to stop (see engine: the minimum's tail)
    job_hours: float  # total job time, each job counted once
    efficiency: float  # dyno_hours / (job_hours / concurrency); 1.0 is the floor
    scale_ops: int  # changes of the requested quantity
    redeliveries: int  # jobs killed past the grace and put back on the queue
    max_dynos: int  # most dynos billed at once (booting, running or stopping)
    back_to_min: float | None  # s from the last job's finish until billed dynos stay at minimum
    back_at: float | None  # t at which that happened; None: not back by the end
    end: float  # t the run ended
    capped: bool  # ended at the cap, not because all was done and back at minimum
    deadline: float
    percentile: float
    series: Series = field(default_factory=Series, compare=False, repr=False)
    # Each job's finish time (inf: never), in publish order, for checks per job.
    finish: tuple[float, ...] = field(default=(), compare=False, repr=False)

    @property
    def meets(self) -> bool:
        """At least `percentile` % of jobs finished within the deadline."""
        return self.within * 100.0 >= self.percentile - 1e-9


def percentile_of(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list; nan when empty."""
    if not sorted_values:
        return math.nan
    k = max(0, math.ceil(q / 100.0 * len(sorted_values)) - 1)
    return sorted_values[min(k, len(sorted_values) - 1)]


def fmt_seconds(s: float | None) -> str:
    if s is None or math.isinf(s):
        return "never"
    if math.isnan(s):
        return "-"
    return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"


TABLE_HEADER = (
    "| policy | within deadline | p99 | dyno-hours | efficiency | scale ops "
    "| redeliveries | max dynos | back to min | meets? |"
)
TABLE_RULE = "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"


def table_cells(r: SimResult) -> list[str]:
    return [
        f"{r.within * 100:.2f} %",
        fmt_seconds(r.p99),
        f"{r.dyno_hours:.3f}",
        f"{r.efficiency:.2f}",
        str(r.scale_ops),
        str(r.redeliveries),
        str(r.max_dynos),
        fmt_seconds(r.back_to_min),
        "yes" if r.meets else "no",
    ]


def table_row(label: str, r: SimResult) -> str:
    return "| " + " | ".join([label, *table_cells(r)]) + " |"


def summary(r: SimResult) -> list[str]:
    """The figures as `name: value` lines a user reads."""
    return [
        f"jobs: {r.jobs:,} ({r.done:,} done)",
        f"within {r.deadline:g} s deadline: {r.within * 100:.2f} % "
        f"(needs {r.percentile:g} %: {'met' if r.meets else 'missed'})",
        f"latency p50 / p99: {fmt_seconds(r.p50)} / {fmt_seconds(r.p99)}",
        f"dyno-hours: {r.dyno_hours:.3f} (efficiency {r.efficiency:.2f}; 1.00 is the floor)",
        f"scale operations: {r.scale_ops}",
        f"redeliveries: {r.redeliveries}",
        f"max dynos: {r.max_dynos}",
        f"back to minimum: {fmt_seconds(r.back_to_min)} after the last job"
        + (f" (at t = {r.back_at:.0f} s)" if r.back_at is not None else ""),
    ]
