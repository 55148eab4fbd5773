"""Heroku's stop grace (`model`'s docstring, 6 and 12): a shed dyno gets
SIGTERM and is killed `STOP_GRACE` later, and the jobs it still runs are
redelivered, so dynos running long jobs are kept while the queue has no
slack for a redone job. Heroku stops the newest dynos, busy or idle, so
shedding idle capacity kills running jobs too, in their share."""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

from guvscale.rules.types import Role
from guvscale.scaling.common import lognormal

STOP_GRACE = 30.0
# Long jobs: shed busy dynos only when the oldest waiting job could still
# wait this many runs (plus the grace) and start in time.
SLACK_RUNS = 3.0


def outlive(role: Role, job_time: float) -> float:
    """Share of in-flight jobs that outlast the stop grace when their dyno stops.

    A job in flight is on average half done, so with runs of P seconds
    about 1 - grace/P of them outlast the grace; with heavy-tailed runs
    the share of jobs longer than the grace (lognormal tail) may be more.
    """
    p = job_time
    half_done = max(0.0, 1.0 - STOP_GRACE / p)
    mu, sigma = lognormal(p, role.stddev / role.processing)
    if sigma < 1e-6:
        return half_done
    tail = 1.0 - NormalDist(mu, sigma).cdf(math.log(STOP_GRACE))
    return max(half_done, tail)


def stop_kills(outlived: float) -> bool:
    """Do enough jobs in flight outlast the grace (`outlive`'s share, 1 % or
    more) for a stop to be counted as killing them?"""
    return outlived >= 0.01


def redo_in_time(oldest: float, *, job_time: float, budget: float) -> bool:
    """Would a job killed at a stop and redone still start in time, with the
    oldest queued job `oldest` seconds old and `budget` its wait allowed?"""
    return budget - oldest >= SLACK_RUNS * job_time + STOP_GRACE


def busy_floor(
    size: int,
    unacked: int,
    oldest: float,
    *,
    concurrency: int,
    job_time: float,
    budget: float,
    outlived: float,
    redelivered: bool,
    spare_kills: float | None = None,
    stopped: Callable[[int], float] | None = None,
) -> int:
    """Dynos kept because shedding them would kill long jobs in flight.

    `oldest`: the age of the oldest queued job; `budget`: how long a job may
    wait; `outlived`: `outlive`'s share; `redelivered`: jobs were lately
    killed at a stop and redone; `spare_kills`: how many jobs a stop may
    kill, the share the percentile lets miss of what an interval handles
    or of the jobs in flight, whichever is more (`model`'s `_busy_floor`;
    None where no job in flight could meet its deadline anyway: then only
    the busy dynos' count is kept); `stopped`: the consuming dynos that
    shedding so many stops, on average (`plan.Fleet.stopped`; None: every
    dyno consumes), as only those hold jobs to kill."""
    if unacked == 0 or size <= 0:
        return 0
    if redelivered:
        # Jobs were killed and redone: the configured job time is not to be
        # trusted to say they finish within the grace, so keep dynos for
        # every job in flight, however long the queue's slack.
        return min(size, math.ceil(unacked / concurrency))
    if not stop_kills(outlived) or redo_in_time(oldest, job_time=job_time, budget=budget):
        return 0
    keep = min(size, math.ceil(unacked / concurrency))
    if spare_kills is None:
        return keep
    # Heroku stops the newest dynos, not the idle ones: each dyno shed kills
    # its share of the jobs in flight that outlast the grace. Keeping only
    # the busy dynos' count shed 8 → 5 with 5 minute-long jobs running, and
    # the stop killed two that then missed (development slow-5).
    if stopped is None:
        stopped = float
    # The jobs in flight are spread over the consuming dynos.
    kills = unacked / max(1.0, stopped(size)) * outlived
    shed = 0
    while shed < size and stopped(shed + 1) * kills <= spare_kills:
        shed += 1
    return max(keep, size - shed)
