"""The reserve (`scaling.reserve`): Erlang C against square-root staffing,
whichever needs fewer slots, and a peak against a burst, whichever needs more."""

from __future__ import annotations

import math

import pytest

from guvscale.rules.types import Role
from guvscale.scaling.common import start_by
from guvscale.scaling.reserve import Peak, erlang_b, erlang_slots, headroom, waits_longer
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
) -> tuple[int, str]:
    """`headroom` for a stream of `rate` jobs/s watched for an hour (no
    unseen peak), at 30 s polls and the 99th percentile, up to 20 dynos."""
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
        watched=3600.0,
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
