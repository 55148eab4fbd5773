"""Table tests of the boot race (`guvscale.scaling.race.boot_race`), a pure
function: a role, a fleet and the arrival log in, (dynos, why) out."""

from __future__ import annotations

import dataclasses

import pytest

from guvscale.rules.types import Role
from guvscale.scaling import Observation, Scaler
from guvscale.scaling.arrivals import ArrivalLog
from guvscale.scaling.common import APPLY_DELAY, BOOT_SPREAD
from guvscale.scaling.plan import Fleet
from guvscale.scaling.race import _landed, _new_dynos, _new_dynos_normal, boot_race
from tests.factories import scaling_role as role

# Fast jobs (77 ms), 10 a dyno, 24 s boot: a dyno asked for now lands 17.8 to
# 32.2 s from now, 25 s nominally.
FAST = role(
    processing=0.077,
    stddev=0.05,
    deadline=38,
    concurrency=10,
    minimum=0,
    maximum=8,
    boot=24.0,
    pollinterval=10.0,
)


def cold(role: Role) -> Fleet:
    return Fleet(
        consuming=0,
        booting=0,
        booting_lands=APPLY_DELAY + role.boot,
        in_flight=0,
        slots=role.concurrency,
        job_time=role.processing,
        outlive=0.0,
        grace=30.0,
    )


def race(
    role: Role,
    fleet: Fleet,
    jobs: int,
    seen_rate: float,
    volume: float,
    coming: float = 0.0,
    published: tuple[float, float] = (90.0, 100.0),
    t: float = 100.0,
) -> tuple[int, str]:
    """`jobs` published in one burst within `published` (the 10 s before
    t = 100), `coming` jobs/s expected while the boot runs."""
    log = ArrivalLog()
    log.record(*published, jobs, stream=0.0)
    spread = BOOT_SPREAD * role.boot
    now_lands = APPLY_DELAY + role.boot
    return boot_race(
        role,
        fleet,
        log,
        t,
        jobs,
        role.maximum,
        soonest_landing=now_lands - spread,
        first_help=now_lands + spread,
        now_lands=now_lands,
        job_time=role.processing,
        volume=volume,
        seen_rate=seen_rate,
        coming=coming,
    )


@pytest.mark.parametrize(
    ("deadline", "seen_rate", "raced"),
    [
        # Due 28 s from now: a nominal boot (25 s) starts them, a late one
        # (up to 32 s) misses them. The share let miss, 1 % of the 53 queued
        # and an hour at 0.03 jobs/s, is under 2 jobs.
        (38, 0.03, True),
        # The same jobs at a rate seen of 5.3 jobs/s: the share is 191 jobs,
        # more than are at risk, so no race.
        (38, 5.3, False),
        # Due 35 s from now: after the latest landing, nothing to race.
        (45, 0.03, False),
    ],
)
def test_jobs_only_a_late_boot_misses_are_raced_when_more_than_the_share(
    deadline: float, seen_rate: float, raced: bool
) -> None:
    role = dataclasses.replace(FAST, deadline=deadline)
    dynos, why = race(role, cold(role), 53, seen_rate=seen_rate, volume=0.01)
    assert (dynos > 1) is raced
    assert ("a dyno lands early enough" in why) is raced
    # Fast jobs: the first dynos to land start them all.
    assert dynos < role.maximum


def test_jobs_only_an_early_boot_saves_take_the_share_faded_in_from_the_first_poll() -> None:
    # Due 18 s from now (deadline 28): only a boot landing before the nominal
    # 25 s saves them. The faded-in volume (0.01 jobs/s: 1 % of an hour is
    # under a job) lets none miss, whatever the rate seen says.
    role = dataclasses.replace(FAST, deadline=28)
    dynos, why = race(role, cold(role), 53, seen_rate=5.3, volume=0.01)
    assert dynos > 1
    assert "racing the boot" in why


def test_no_race_at_the_maximum_with_nothing_booting() -> None:
    fleet = dataclasses.replace(cold(FAST), consuming=FAST.maximum)
    assert race(FAST, fleet, 53, seen_rate=0.03, volume=0.01) == (0, "")


# Due 27.9 s from publish (deadline 28), a job published within 4.3 s from
# now is due before a late boot (32.2 s) lands, so it is at risk as a queued
# one is: an on/off stream coming back found one dyno booting for its queue.
@pytest.mark.parametrize(
    ("coming", "raced"),
    [
        # 3 queued jobs are fewer than the share let miss at 0.1 jobs/s (1 %
        # of them and of an hour: 3.6 jobs): no race.
        (0.0, False),
        # With 5 jobs/s still to come, about 20 are at risk: a race.
        (5.0, True),
    ],
)
def test_jobs_still_to_come_before_a_late_boot_are_raced_for_too(
    coming: float, raced: bool
) -> None:
    role = dataclasses.replace(FAST, deadline=28)
    dynos, why = race(role, cold(role), 3, seen_rate=0.1, volume=0.1, coming=coming)
    assert (dynos > 1) is raced
    assert ("jobs, queued or coming at 5 jobs/s," in why) is raced
    assert dynos < role.maximum


# Development sparse-16 at 15 s: one job published 30-45 s ago, due 85.3 s
# from its publish, and 3 dynos booting that land 25-59 s from now (asked for
# 15 s ago). A dyno asked for now lands 40-74 s from now.
SPARSE = role(
    processing=14.7,
    stddev=10.6,
    deadline=100,
    concurrency=8,
    minimum=0,
    maximum=10,
    boot=56.0,
    pollinterval=15.0,
)


@pytest.mark.parametrize(
    ("maximum", "dynos"),
    [
        # Even 10 dynos leave the job under 99 % sure of one in time by the
        # checkpoints that matter: only the 2 new dynos that each add at
        # least 1 % to its chance are raced (before, all 7 the maximum had
        # room for).
        (10, 5),
        # With room for 30, one checkpoint's 99 % can be had with 10 new
        # dynos, and is; an earlier one, out of reach even at 30, raced all
        # 27 before.
        (30, 13),
    ],
)
def test_where_the_maximum_cannot_make_the_percentile_sure_only_dynos_worth_a_miss_share_race(
    maximum: int, dynos: int
) -> None:
    role = dataclasses.replace(SPARSE, maximum=maximum)
    fleet = dataclasses.replace(cold(role), booting=3, booting_lands=42.0)
    got, why = race(role, fleet, 1, 0.003, 0.003, published=(45.0, 60.0), t=90.0)
    assert got == dynos
    assert f"so {dynos} dynos boot at once" in why


def test_a_race_for_part_of_a_job_names_one_job_not_none() -> None:
    # Development sparse-14 at 15 s: a lone job, maybe just published, is
    # partly at risk; the reason said "0 queued jobs start in time only if".
    lone = dataclasses.replace(
        role(processing=7.8, stddev=5.5, deadline=100, concurrency=50, minimum=0, maximum=4),
        boot=66.0,
        pollinterval=15.0,
    )
    scaler = Scaler(lone)
    for t in range(0, 240, 15):
        scaler.decide(Observation(t=t, ready=0, unacked=0, consumers=0, current=0))
    first = scaler.decide(
        Observation(t=240, ready=1, unacked=0, consumers=0, current=0, publish_rate=1 / 15)
    )
    assert first.desired > 1
    assert "racing the boot: 1 queued job starts in time only if a dyno lands" in first.reason


@pytest.mark.parametrize(
    ("booting", "p", "q", "k", "room", "extra"),
    [
        (0, 0.0, 0.5, 100, 300, 0),  # a cold race: about 2k dynos, and the margin
        (50, 0.8, 0.5, 120, 300, 0),  # booting ones land first
        (200, 0.3, 0.3, 150, 200, 0),  # even the room falls short: only dynos worth a share
        (0, 0.0, 0.9, 250, 350, 40),  # an earlier checkpoint's dynos are kept
        (100, 0.5, 0.0, 80, 300, 0),  # nothing asked for now lands in time
    ],
)
def test_a_race_of_many_dynos_taken_as_normal_agrees_with_the_exact_count(
    booting: int, p: float, q: float, k: int, room: int, extra: int
) -> None:
    # Past EXACT_RACE dynos the landed counts are taken as normal: the exact
    # work grows with the square of the dynos (a maximum of 10,000 held the
    # shared worker 28 s a decision). Where both can run, they agree.
    exact = _new_dynos(_landed([1.0], p, booting), q, k, room, extra, 0.99)
    normal = _new_dynos_normal(booting, p, q, k, room, extra, 0.99)
    assert abs(normal - exact) <= 2, (normal, exact)


def test_a_role_of_thousands_of_dynos_and_month_long_jobs_decides() -> None:
    # One tenant's rules must not hold the shared worker: a month-long
    # `processing` at 20 jobs/s took Erlang C 33 s a decision, and a race
    # for 5,000 of 10,000 dynos 28 s.
    huge = role(processing=36304.5, stddev=30000.0, deadline=13.2, concurrency=10)
    huge = dataclasses.replace(huge, minimum=0, maximum=10_000, boot=60.0)
    month = dataclasses.replace(huge, processing=2_592_000.0, stddev=10.0, deadline=2_592_000.0)
    for r, rate in ((huge, 807.0), (month, 20.0)):
        scaler = Scaler(r)
        scaler.decide(Observation(0.0, 0, 0, consumers=1, publish_rate=rate, current=1))
        later = Observation(30.0, int(rate * 60), 10, consumers=1, publish_rate=rate, current=1)
        assert scaler.decide(later).desired == 10_000
