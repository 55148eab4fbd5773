"""The reserve (`scaling.reserve`): Erlang C against square-root staffing,
whichever needs fewer slots, and a peak against a burst, whichever needs more."""

from __future__ import annotations

import math

import pytest

from guvscale.rules.types import Role
from guvscale.scaling.common import NO_SPREAD, run_spread, start_by
from guvscale.scaling.reserve import (
    Peak,
    erlang_b,
    erlang_slots,
    first_peak,
    headroom,
    peak_costs,
    waits_longer,
)
from tests.factories import scaling_role as role

# Development diurnal-19's role: one dyno of 20 slots, boot past the deadline.
WIDE = role(
    processing=3.25, stddev=1.13, deadline=37, concurrency=20, minimum=0, maximum=20, boot=49
)


def reserve(
    role: Role,
    rate: float,
    *,
    risen: float | None = None,
    peaks: list[Peak] | None = None,
    bursts: list[tuple[float, float]] | None = None,
    watched: float = 3600.0,
) -> tuple[int, str]:
    """`headroom` for a stream of `rate` jobs/s watched for an hour (no
    unseen peak) unless `watched` says less, at 30 s polls and the 99th
    percentile, up to 20 dynos."""
    return headroom(
        role,
        20,
        lasting=rate,
        risen=risen,
        quiet=False,
        job_time=role.processing,
        start_by=start_by(role),
        interval=30.0,
        z=2.326,
        peaks=peaks or [],
        bursts=bursts or [],
        watched=watched,
        seen=rate,
    )


@pytest.mark.parametrize(
    ("c", "busy", "wait_in_jobs", "expected"),
    [
        (1, 0.5, 0.0, 0.5),  # M/M/1: a job waits with the utilization's chance
        (2, 1.0, 0.0, 1 / 3),  # M/M/2 at half load: 2u²/(1 + u)
        (1, 0.5, 2.0, 0.5 * math.exp(-1.0)),  # the wait beyond is exponential
        (20, 18.7, 0.0, 0.69),  # near full, most jobs wait a little,
        (20, 18.7, 4.8, 0.00135),  # but hardly any for 4.8 job times
    ],
)
def test_erlang_c_is_the_chance_a_job_waits_longer(
    c: int, busy: float, wait_in_jobs: float, expected: float
) -> None:
    p = waits_longer(c, busy, erlang_b(c, busy), wait_in_jobs)
    assert p == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize(
    ("busy", "job_time", "wait", "slots"),
    [
        (0.0, 1.0, 0.0, 0),
        (1.0, 1.0, 0.0, 5),  # no wait allowed: the z of a few slots
        (18.7, 3.25, 15.5, 20),  # a wait of a few jobs absorbs the noise
        (18.7, 3.25, 0.0, 31),
        (50.0, 0.2, 60.0, 51),
    ],
)
def test_erlang_slots_are_the_fewest_that_keep_the_wait_within_the_percentile(
    busy: float, job_time: float, wait: float, slots: int
) -> None:
    assert erlang_slots(busy, job_time, wait, 99.0) == slots
    if slots > busy + 1:
        fewer = slots - 1
        assert waits_longer(fewer, busy, erlang_b(fewer, busy), wait / job_time) > 0.01


@pytest.mark.parametrize(
    ("rate", "risen", "dynos"),
    [
        (4.0, None, 1),
        (5.77, None, 1),
        (6.5, None, 2),  # 21 busy slots: one dyno cannot keep up
        # The same 5.77 jobs/s, risen from 5 in the last two intervals: a
        # rising rate keeps the square root's margin, as it may go on rising.
        (5.0, 5.77, 2),
    ],
)
def test_a_wide_dyno_near_full_is_its_own_reserve_unless_the_rate_rises(
    rate: float, risen: float | None, dynos: int
) -> None:
    # 5.77 jobs/s keep 18.7 of its 20 slots busy. Square-root staffing with
    # its shrink asks for 22 slots, so two dynos; Erlang C with the plan's
    # wait (15 s, the start-by less the boot spread) needs 20.
    count, why = reserve(WIDE, rate, risen=risen)
    assert count == dynos
    assert why.startswith(f"headroom: {dynos} dyno")


# Development heavytail-27's role: 91 ms jobs, 10 a dyno (110 jobs/s), boot
# plus a poll (43 s) past the slack, over a stream of 5.4 jobs/s.
FAST_JOBS = role(
    processing=0.0907,
    stddev=0.0757,
    deadline=39,
    concurrency=10,
    minimum=0,
    maximum=20,
    boot=13.0,
    pollinterval=30.0,
)
PEAK = Peak(1800.0, 52.7, 5.4)  # a burst of 2,874 jobs across two polls


@pytest.mark.parametrize(
    ("peaks", "burst", "dynos", "named"),
    [
        ([], None, 1, "for the noise of 5.4 jobs/s"),
        ([PEAK], None, 1, "for a peak of 52.7 jobs/s"),
        ([], 2874.0, 1, "for the noise of 5.4 jobs/s"),
        # The same burst seen as a peak too: one event, not two (it was 2).
        ([PEAK], 2874.0, 1, "for a peak of 52.7 jobs/s"),
        # A burst bigger than the peak: the burst's slots on the stream's.
        ([], 20000.0, 5, "and 4 for bursts like the last 30 min's (20,000 jobs)"),
        ([PEAK], 20000.0, 5, "and 4 for bursts like the last 30 min's (20,000 jobs)"),
    ],
)
def test_the_reserve_covers_the_worse_of_a_peak_and_a_burst_not_both(
    peaks: list[Peak], burst: float | None, dynos: int, named: str
) -> None:
    count, why = reserve(
        FAST_JOBS, 5.4, peaks=peaks, bursts=[] if burst is None else [(1800.0, burst)]
    )
    assert count == dynos
    assert named in why


# Heavy-tailed jobs (mean 22.5 s, cv 1.5, one a dyno) whose boot plus a poll
# leave no time to react: the slow run (153 s) leaves a start-by of 25 s.
HEAVY = role(
    processing=22.5, stddev=33, deadline=178, concurrency=1, minimum=1, maximum=10, boot=61
)


def late_share(c: int, busy: float, job_time: float, wait: float, cv: float) -> float:
    """P(wait + run > what the slow run may wait plus its run), integrated
    over the lognormal's density on a fine grid, not `run_spread`'s bins;
    the wait is Erlang C's with `c` slots."""
    sigma = math.sqrt(math.log1p(cv * cv))
    slow = math.exp(-sigma * sigma / 2 + sigma * 2.3263478740408408)

    def longer(x: float) -> float:  # P(run > x mean job times)
        if x <= 0:
            return 1.0
        return 0.5 * math.erfc((math.log(x) + sigma * sigma / 2) / sigma / math.sqrt(2))

    limit = slow + wait / job_time  # the whole time a job has, in job times
    blocked, steps = erlang_b(c, busy), 20000
    late = longer(limit)
    for i in range(steps):
        lo, hi = limit * i / steps, limit * (i + 1) / steps
        left = limit - (lo + hi) / 2
        late += (longer(lo) - longer(hi)) * waits_longer(c, busy, blocked, left)
    return late


@pytest.mark.parametrize(
    ("busy", "job_time", "wait", "cv", "slots", "held_to_slow_run"),
    [
        (2.25, 22.5, 6.2, 1.47, 4, 7),  # 0.1 jobs/s of HEAVY
        (3.76, 22.5, 6.2, 1.47, 6, 9),  # 0.167 jobs/s
        (6.75, 22.5, 6.2, 1.47, 9, 13),  # 0.3 jobs/s
        (3.76, 22.5, 6.2, 0.3, 7, 9),  # a narrow spread gains less
    ],
)
def test_in_a_streams_noise_each_job_may_wait_for_what_its_own_run_leaves(
    busy: float, job_time: float, wait: float, cv: float, slots: int, held_to_slow_run: int
) -> None:
    spread = run_spread(cv, 99.0)
    assert erlang_slots(busy, job_time, wait, 99.0, spread) == slots
    assert erlang_slots(busy, job_time, wait, 99.0) == held_to_slow_run
    # The jobs it makes late, with the long jobs late anyway, are within the
    # percentile, and one slot fewer would not be.
    assert late_share(slots, busy, job_time, wait, cv) <= 0.0101
    assert late_share(slots - 1, busy, job_time, wait, cv) > 0.01


def test_the_spread_is_shares_of_jobs_with_the_longest_percent_past_the_slow_run() -> None:
    assert run_spread(0.0, 99.0) == NO_SPREAD
    for cv in (0.3, 1.47, 3.0):
        spread = run_spread(cv, 99.0)
        assert sum(share for _, share in spread) == pytest.approx(1.0)
        assert sum(share for extra, share in spread if extra < 0) == pytest.approx(0.01)


def test_where_the_long_jobs_alone_use_the_percentile_every_job_waits_as_the_slow_run() -> None:
    # A wait of -5 s: every job up to 0.22 job times shorter than the slow
    # run misses anyway, more than 1 % of them.
    spread = run_spread(1.47, 99.0)
    assert erlang_slots(3.76, 22.5, -5.0, 99.0, spread) == erlang_slots(3.76, 22.5, 0.0, 99.0)


@pytest.mark.parametrize(("rate", "dynos"), [(0.1, 4), (0.167, 6), (0.3, 9)])
def test_heavy_tailed_jobs_keep_a_reserve_for_their_own_runs(rate: float, dynos: int) -> None:
    count, why = reserve(HEAVY, rate)
    assert count == dynos
    assert why.startswith(f"headroom: {dynos} dynos for the noise of {rate:.3g} jobs/s")


def test_a_peak_not_seen_yet_keeps_the_slow_runs_margin() -> None:
    # Five minutes into a stream of 0.1 jobs/s the unseen peak is 6.8 times
    # that: a guess, staffed as if every job ran the slow run. The same rate
    # seen as a peak is staffed for each job's own run.
    guessed = first_peak(300.0) * 0.1
    unseen, why = reserve(HEAVY, 0.1, watched=300.0)
    seen, _ = reserve(HEAVY, 0.1, peaks=[Peak(1800.0, guessed, 0.0)])
    assert "until 30 min of the stream show its peaks" in why
    assert (unseen, seen) == (20, 18)


# A rise reacted to at its first sight makes late only the jobs that come
# before dynos asked for then land and run longer than the deadline leaves.
SHORT = role(processing=0.5, stddev=0.35, deadline=15, concurrency=4, minimum=1, maximum=8, boot=33)


@pytest.mark.parametrize(
    ("role_", "rise", "seen", "costs"),
    [
        # No job meets the deadline after waiting out a boot: a rise of 5
        # jobs/s over 5.5 loses ~520 jobs, an hour's share is 198.
        (SHORT, 5.0, 5.5, True),
        (SHORT, 1.0, 5.5, False),  # ~100 jobs
        # Heavy-tailed jobs: of those that wait out a late boot and a poll
        # (110 s), the 6 % that run longer than the 68 s left miss.
        (HEAVY, 0.7, 0.1, True),  # 4.5 jobs, an hour's share 3.6
        (HEAVY, 0.35, 0.1, False),  # 2.3 jobs
        # Jobs of 0.5 s with a 178 s deadline: none waiting 110 s misses.
        (role(processing=0.5, stddev=0.0, deadline=178, boot=61), 50.0, 0.1, False),
        # A stddev too small for a distribution (sigma rounds to 0; its cdf
        # raised): every job runs the mean.
        (role(processing=0.5, stddev=1e-300, deadline=178, boot=61), 50.0, 0.1, False),
        (role(processing=100.0, stddev=1e-300, deadline=178, boot=61), 50.0, 0.1, True),
    ],
)
def test_an_unseen_peak_is_staffed_for_only_where_reacting_would_cost_runs(
    role_: Role, rise: float, seen: float, costs: bool
) -> None:
    assert peak_costs(role_, rise, seen, 60.0 if role_ is SHORT else 30.0) is costs


@pytest.mark.parametrize(("watched", "dynos"), [(0.0, 20), (300.0, 20), (900.0, 4), (1500.0, 4)])
def test_a_heavy_tailed_stream_drops_the_unseen_peak_once_reacting_costs_no_more(
    watched: float, dynos: int
) -> None:
    # By 15 minutes the guess is 4.5 times the 0.1 jobs/s seen: reacting to
    # such a rise would make 2.3 jobs late, fewer than the hour's 3.6.
    count, why = reserve(HEAVY, 0.1, watched=watched)
    assert count == dynos
    assert ("until 30 min of the stream show its peaks" in why) is (dynos == 20)
