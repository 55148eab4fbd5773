"""Small pieces the scaling modules share: the bounds in force, guv's target,
Heroku's timings, wording."""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import replace
from statistics import NormalDist

from guvscale.rules.parser import derive_target
from guvscale.rules.types import Role
from guvscale.scaling.types import Observation

# Boot times vary about ±30 % around the configured `boot`.
BOOT_SPREAD = 0.3
# A decision reaches Heroku about a second after the poll.
APPLY_DELAY = 1.0


def bounds(role: Role, obs: Observation) -> tuple[int, int]:
    """(minimum, maximum) for this poll: the schedule's when `obs.now` is given.

    Eco/Basic roles scale a list of process types to 0 or 1 each, so they can
    never run more dynos than the list is long.
    """
    lo, hi = role.bounds_at(obs.now) if obs.now is not None else (role.minimum, role.maximum)
    if role.workers:
        hi = min(hi, len(role.workers))
        lo = min(lo, hi)
    return lo, hi


def clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(value, hi))


def finish_target(role: Role) -> tuple[float, bool]:
    """guv's target: the time by which a job must be done once it is published.

    T = deadline - z·stddev, z the normal quantile of `percentile`: a job that
    finishes its mean run by T still meets the deadline at the percentile.
    Returns (T, achievable). When T ≤ processing no queueing can meet the
    deadline; like guv we then use processing + 0.01 s and do our best.
    """
    if role.target > 0:
        target = role.target
    else:
        z = NormalDist().inv_cdf(role.percentile / 100.0)
        target = role.deadline - z * role.stddev
    if target <= role.processing:
        return role.processing + 0.01, False
    return target, True


def slow_run(role: Role) -> float:
    """How long the slowest jobs (at the percentile) run.

    Job times are right-skewed: many short, a few long. A lognormal with the
    role's mean and stddev models that; a normal (guv's z·stddev) would put a
    minute-long job's 99th percentile at 130 s where a lognormal has 161 s.
    """
    z = NormalDist().inv_cdf(role.percentile / 100.0)
    if role.stddev <= 0:
        return role.processing
    mu, sigma = lognormal(role.processing, role.stddev / role.processing)
    return math.exp(mu + z * sigma)


def lognormal(mean: float, cv: float) -> tuple[float, float]:
    """(mu, sigma) of the lognormal with this mean and coefficient of variation."""
    sigma2 = math.log1p(cv**2)
    return math.log(mean) - sigma2 / 2, math.sqrt(sigma2)


# (extra, share) pairs: a `share` of jobs runs `extra` mean job times
# shorter than the slow run (`slow_run`), so it may wait that much longer.
Spread = tuple[tuple[float, float], ...]
NO_SPREAD: Spread = ((0.0, 1.0),)  # every job held to the slow run's wait


@functools.lru_cache(maxsize=1024)  # bounded: a worker runs for weeks over many roles
def run_spread(cv: float, percentile: float) -> Spread:
    """How much longer than the slow run each share of jobs may wait and
    still meet the deadline, over the lognormal of job times with coefficient
    of variation `cv` (as `slow_run` models them). The few jobs longer than
    the slow run get less than 0.

    Bins are finer in the long tail, where the jobs a wait makes late are.
    With no spread (cv 0) every job runs the mean: NO_SPREAD.
    """
    if cv <= 0:
        return NO_SPREAD
    mu, sigma = lognormal(1.0, cv)
    normal = NormalDist()

    def run(p: float) -> float:  # the job time at probability p, in means
        return math.exp(mu + sigma * normal.inv_cdf(p))

    slow = run(percentile / 100.0)
    edges = [i / 20 for i in range(19)] + [1 - 0.1 * 10 ** (-k / 24) for k in range(1, 121)] + [1.0]
    return tuple(
        (slow - run((lo + hi) / 2 if hi < 1 else 1 - (1 - lo) / 2), hi - lo)
        for lo, hi in itertools.pairwise(edges)
    )


def runs_longer(role: Role, seconds: float) -> float:
    """The share of jobs that run longer than `seconds` (the lognormal of
    `slow_run`; with no spread to speak of, all or none)."""
    if seconds <= 0:
        return 1.0
    mu, sigma = lognormal(role.processing, role.stddev / role.processing)
    # A stddev so small that sigma rounds to 0 has no distribution to read
    # (NormalDist's cdf raises): `grace.outlive` draws the same line.
    if sigma < 1e-6:
        return 1.0 if role.processing > seconds else 0.0
    return 1.0 - NormalDist(mu, sigma).cdf(math.log(seconds))


def start_by(role: Role) -> float:
    """Seconds after its publish by which a job must start to meet the deadline.

    The deadline less the run of the slowest jobs; a `target` the user wrote
    (one that differs from guv's derived one) replaces deadline - z·stddev.
    """
    derived = derive_target(role.deadline, role.percentile, role.stddev)
    if role.target > 0 and abs(role.target - derived) > 1e-6 and role.target > role.processing:
        return role.target - role.processing
    return role.deadline - slow_run(role)


def as_measured(role: Role, job_time: float) -> Role:
    """The role with jobs of `job_time` on average (as the acks measured
    them), spread alike (the same coefficient of variation), and guv's
    derived target moved with them; a target the user wrote stays theirs."""
    if job_time == role.processing or role.processing <= 0:
        return role
    stddev = role.stddev * job_time / role.processing
    target = role.target
    if (
        target <= 0
        or abs(target - derive_target(role.deadline, role.percentile, role.stddev)) <= 1e-6
    ):
        target = derive_target(role.deadline, role.percentile, stddev)
    return replace(role, processing=job_time, stddev=stddev, target=target)


def dynos(n: int) -> str:
    return f"{n} dyno" if n == 1 else f"{n} dynos"


def jobs(n: int) -> str:
    return f"{n:,} job" if n == 1 else f"{n:,} jobs"


def seconds(s: float) -> str:
    return f"{s:,.0f} s" if s >= 10 else f"{s:.3g} s"


def blind_at_first_sight(role: Role, start_by: float) -> bool:
    """No dyno asked for at a rise's first sight starts a job in time, even
    booting at once: boot alone is no shorter than `start_by` (the role's
    `start_by`, passed in as callers have it at hand)."""
    return APPLY_DELAY + role.boot >= start_by


def reaction_warning(role: Role) -> str | None:
    """Why reacting to a burst cannot save it, when boot plus a poll use up the slack.

    A job may wait `start_by` seconds before it must start; a dyno asked for
    at a burst's first sight starts jobs up to a poll plus a boot later. When
    that is no sooner, only dynos already running can serve the burst, so the
    model keeps headroom for one (and says so in its reasons).
    """
    from guvscale.scaling.reserve import BURST_MEMORY, FIRST_PEAK  # it imports this module

    slack = start_by(role)
    react = role.boot + role.pollinterval
    if slack <= 0 or react < slack or role.maximum <= role.minimum:
        return None
    new_stream = (
        f", and for a new stream's first {BURST_MEMORY / 60:g} min, before it has shown "
        f"its peaks, for one of up to {FIRST_PEAK:g} times its rate"
        if blind_at_first_sight(role, slack)
        else ""
    )
    return (
        f"dynos boot in {seconds(role.boot)} and polls come every {seconds(role.pollinterval)}: "
        f"{seconds(react)}, no sooner than the {seconds(slack)} a job may wait before it "
        "must start, so only dynos already running can meet a sudden burst; the model "
        f"keeps headroom for one{new_stream} (raise minimum to choose it yourself)"
    )
