"""Heroku's stop grace (`model`'s docstring, 6 and 12): a shed dyno gets
SIGTERM and is killed `STOP_GRACE` later, and the jobs it still runs are
redelivered, so dynos running long jobs are kept while the queue has no
slack for a redone job."""

from __future__ import annotations

import math
from statistics import NormalDist

from guvscale.rules.types import Role

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
    cv = role.stddev / role.processing
    sigma = math.sqrt(math.log1p(cv * cv))
    if sigma < 1e-6:
        return half_done
    mu = math.log(p) - sigma * sigma / 2
    tail = 1.0 - NormalDist(mu, sigma).cdf(math.log(STOP_GRACE))
    return max(half_done, tail)


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
) -> int:
    """Dynos kept because shedding them would kill long jobs in flight.

    `oldest`: the age of the oldest queued job; `budget`: how long a job may
    wait; `outlived`: `outlive`'s share; `redelivered`: jobs were lately
    killed at a stop and redone."""
    if unacked == 0:
        return 0
    if redelivered:
        # Jobs were killed and redone: the configured job time is not to be
        # trusted to say they finish within the grace, so keep dynos for
        # every job in flight, however long the queue's slack.
        return min(size, math.ceil(unacked / concurrency))
    if outlived < 0.01:
        return 0
    if budget - oldest >= SLACK_RUNS * job_time + STOP_GRACE:
        return 0  # a redone job would still start in time
    return min(size, math.ceil(unacked / concurrency))
