"""The seven failures issue 7 found, one table case each (each failed before its fix),
and the property that a reason's "within the deadline" is what the simulation sees."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from guvscale.scaling import Decision, Observation, Scaler
from guvscale.scaling.common import as_measured, reaction_warning, start_by
from guvscale.scaling.model import DeadlineModel
from guvscale.scaling.reserve import Peak, peak_now
from guvscale.simulate import SimConfig, SimResult, Trace, run, run_trace
from guvscale.simulate.baselines import Fastest
from guvscale.simulate.policies import ours
from guvscale.simulate.scenarios import FAMILIES, with_poll
from tests.factories import Recording
from tests.factories import scaling_role as role


def obs(t: float, ready: int, **kw: Any) -> Observation:
    kw.setdefault("unacked", 0)
    kw.setdefault("consumers", kw.get("current", 0))
    kw.setdefault("publish_rate", 0.0)
    return Observation(t=t, ready=ready, **kw)


def last(scaler: Scaler, observations: list[Observation]) -> Decision:
    decisions = [scaler.decide(o) for o in observations]
    return decisions[-1]


def ours_and_fastest(family: str, seed: int, poll: float) -> tuple[SimResult, SimResult]:
    """A development scenario of the suite (`bench/suite.py`) under ours and the fastest."""
    trace = with_poll(FAMILIES[family](seed), poll)
    r = trace.role()
    return run_trace(ours(r), trace, r, seed=seed), run_trace(Fastest(r), trace, r, seed=seed)


# 1. A backlog the arithmetic says cannot finish was held "within the deadline":
# with no slack left (deadline shorter than boot) the plan's horizon ended
# before any new dyno could land, so nothing ever seemed needed.
def test_1_a_backlog_no_dyno_saves_in_time_is_still_worked_off() -> None:
    short = role(processing=2.4, deadline=22, concurrency=1, minimum=0, maximum=8, boot=81)
    short = dataclasses.replace(short, pollinterval=10.0)
    polls = [obs(10 * i, 3 * i, current=0, publish_rate=0.3) for i in range(8)]
    decision = last(Scaler(short), polls)
    assert decision.desired > 0
    assert "within the deadline" not in decision.reason


def test_1_the_issues_import_within_one_poll_meets_at_every_interval() -> None:
    # ~4,200 jobs at ~400/s over a 3 jobs/s stream; 300 s deadline, 1.3 s jobs,
    # 4 a dyno, at most 16, 60 s boot, one dyno running.
    stream = [i / 3 for i in range(3 * 900)]
    imported = [300.0 + i / 400 for i in range(4200)]
    for poll in (10.0, 15.0, 30.0, 60.0):
        trace = Trace(
            "import", sorted(stream + imported), 1.3, 0.5, 300.0, 4, 1, 16, boot=60.0,
            pollinterval=poll, length=900.0,
        )  # fmt: skip
        result = run_trace(ours(trace.role()), trace, seed=1)
        assert result.meets, (poll, result.within)


# 1. A cold start's first interval: no stream is known yet, so it was no
# surge either; its queue was past saving, and the plan saw nothing else, so
# it held 1 dyno while 11.6 jobs/s, more than that dyno serves, kept coming.
def test_1_a_cold_starts_first_interval_may_go_on() -> None:
    r = role(processing=0.52, stddev=0.3, deadline=59, concurrency=5, minimum=1, maximum=8)
    r = dataclasses.replace(r, boot=69.0, pollinterval=60.0)
    first = obs(60, 240, unacked=5, current=1, publish_rate=11.6)
    decision = last(Scaler(r), [obs(0, 0, current=1), first])
    # 11.6 jobs/s keep 6 slots busy; one dyno has 5.
    assert decision.desired >= 2, decision.reason


def test_1_a_cold_start_on_a_short_deadline_meets_as_the_fastest_does() -> None:
    ours_run, fastest = ours_and_fastest("shortdeadline", 8, 60.0)
    assert fastest.meets
    assert ours_run.meets, ours_run.within
    assert ours_run.dyno_hours < 0.7 * fastest.dyno_hours


# 1. Jobs in flight beyond the busy slots wait in a consumer's prefetch (Celery
# keeps 4 a slot by default): they were planned as running, so a backlog behind
# 96 prefetched jobs was said to finish "within the deadline" on one dyno.
@pytest.mark.parametrize("unacked, at_least", [(4, 1), (100, 1), (200, 2)])
def test_1_prefetched_jobs_are_worked_off_before_the_queue(unacked: int, at_least: int) -> None:
    celery = role(processing=1.0, concurrency=4, deadline=40.0, boot=10.0, maximum=10)
    celery = dataclasses.replace(celery, pollinterval=10.0)
    polls = [obs(10 * i, 0, unacked=4, current=1, publish_rate=4.0) for i in range(6)]
    rate = 4.0 + (40 + unacked - 4) / 10
    decision = last(
        Scaler(celery), [*polls, obs(60, 40, unacked=unacked, current=1, publish_rate=rate)]
    )
    assert decision.desired >= at_least
    # 40 queued jobs start within 10 s of free slots, but behind 96 or 196
    # prefetched ones the one dyno frees its first slot for them after 24 s or more.
    assert ("within the deadline" in decision.reason) == (unacked == 4), decision.reason


# 2. Livelock: a job longer than the 30 s stop grace was killed at every
# scale-down and redelivered for ever.
def test_2_a_job_longer_than_the_grace_is_not_killed_for_ever() -> None:
    heavy = role(processing=5.0, stddev=15.0, deadline=600, concurrency=1, minimum=0, maximum=4)
    # Before: scaled to 0 at each poll, killed after 30 s, booted again: 35
    # redeliveries and never done within the hour the run was given.
    result = run(ours(heavy), heavy, [5.0], [200.0], config=SimConfig(tail=3600.0))
    assert result.done == 1 and not result.capped
    assert result.redeliveries <= 1


def test_2_once_jobs_came_back_dynos_running_them_are_kept() -> None:
    heavy = role(processing=5.0, stddev=15.0, deadline=600, concurrency=1, minimum=0, maximum=4)
    scaler = Scaler(heavy)
    last(scaler, [obs(30 * i, 0, unacked=1, current=1) for i in range(4)])
    # Shed: the job came back (ready rose with nothing published).
    scaler.decide(obs(120, 0, unacked=1, current=1))
    scaler.decide(obs(150, 1, unacked=0, current=0))
    # Running again, with the queue's slack wide: the dyno is still kept.
    decision = last(scaler, [obs(180 + 30 * i, 0, unacked=1, current=1) for i in range(3)])
    assert decision.desired == 1


def test_2_a_shed_dynos_prefetch_coming_back_is_no_redelivery() -> None:
    # Celery-like consumers hold 4 jobs a slot: a stopped dyno hands its
    # unstarted ones back at once. Taken for jobs killed at a stop, that kept
    # a dyno for every job in flight for an hour (6 of 120 prefetch runs).
    celery = role(processing=5.0, deadline=600, concurrency=1, minimum=0, maximum=4)
    scaler = Scaler(celery)
    polls = [obs(30 * i, 0, unacked=8, current=2, consumers=2) for i in range(4)]
    shed = last(scaler, polls)
    assert shed.desired < 2
    # The 3 jobs of the shed dyno's buffer are back, nothing was published.
    scaler.decide(obs(120, 3, unacked=4, current=1, consumers=1))
    # Two dynos, each running a short job, the queue empty: one may go, as
    # its job finishes within the grace.
    polls = [obs(150 + 30 * i, 0, unacked=2, current=2, consumers=2) for i in range(3)]
    decision = last(scaler, polls)
    assert decision.desired < 2, decision.reason


# 3. The configured job time was trusted over the acks.
def test_3_the_measured_job_time_replaces_a_wrong_processing_and_says_so() -> None:
    fast = role(processing=1.0, deadline=120, concurrency=1, minimum=0, maximum=40)

    def after(ack_rate: float) -> Decision:
        polls = [
            obs(30 * i, 300, unacked=4, current=4, publish_rate=4.0, ack_rate=ack_rate)
            for i in range(8)
        ]
        return last(Scaler(fast), polls)

    honest, slow = after(4.0), after(1.0)  # 4 consumers: 1 s jobs, or 4 s ones
    assert "as measured" not in honest.reason
    assert "jobs take 4 s as measured from acks per consumer, not the 1 s configured" in (
        slow.reason
    )
    assert slow.desired > honest.desired


def test_3_acks_counted_in_lumps_do_not_shrink_the_measured_job_time() -> None:
    # RabbitMQ's management API refreshes its counters every 5 s; polled every
    # second, four intervals show no ack and the fifth all of them. Skipping the
    # empty ones read 0.5 s jobs as 0.1 s (seen live: the e2e burst then missed).
    steady = role(processing=0.5, deadline=90, concurrency=5, minimum=1, maximum=8)
    polls = [
        obs(
            i, 1000 - 2 * i, unacked=5, current=1, consumers=1, ack_rate=50.0 if i % 5 == 4 else 0.0
        )
        for i in range(60)
    ]
    decision = last(Scaler(steady), polls)
    assert "as measured" not in decision.reason


def test_3_a_fleet_starving_between_polls_does_not_read_its_jobs_as_long() -> None:
    # One dyno of 10 slots at 70 % of its capacity: a few jobs wait at each
    # poll and every slot is busy then, but the queue runs dry in between.
    # Counting such intervals as saturated read 1 s jobs as 1.4 s (diurnal-29
    # at 10 s: "jobs take 2.04 s as measured", 1.41 s configured and true),
    # and the reserve staffed for jobs that long.
    near = role(processing=1.0, deadline=60, concurrency=10, minimum=1, maximum=8)
    polls = [
        obs(10 * i, 1 + i % 3, unacked=10, current=1, consumers=1, publish_rate=7.0, ack_rate=7.0)
        for i in range(60)
    ]
    decision = last(Scaler(near), polls)
    assert "as measured" not in decision.reason


@pytest.mark.parametrize(
    ("real", "polls", "said"),
    [
        (100.0, 4, None),  # 3.6 acks: too few to tell
        (100.0, 12, "jobs take 100 s as measured from acks per consumer, not the 50 s configured"),
        (60.0, 40, None),  # within a quarter of the configured time
        (70.0, 12, None),  # 11 acks: 40 % off is still within their noise
        (70.0, 40, "jobs take 70 s as measured from acks per consumer, not the 50 s configured"),
    ],
)
def test_3_slow_jobs_are_measured_from_the_few_acks_they_give(
    real: float, polls: int, said: str | None
) -> None:
    # Four busy dynos of minute-long jobs ack about one job a 30 s poll. Each
    # interval faded the count by 5 %, so it could never reach the 30 acks
    # asked for: a rule's job time half the real one was trusted for ever
    # (development slow runs with `processing` halved: 72 of 120 missed).
    slow = role(processing=50.0, stddev=15.0, deadline=900, concurrency=1, minimum=0, maximum=8)
    rate = 4 / real
    decision = last(
        Scaler(slow),
        [
            obs(30 * i, 40, unacked=4, current=4, publish_rate=rate, ack_rate=rate)
            for i in range(polls)
        ],
    )
    if said is None:
        assert "as measured" not in decision.reason
    else:
        assert said in decision.reason


@pytest.mark.parametrize(
    ("target", "job_time", "expected"),
    [
        # No target written (0) or guv's derived one: derived again for the
        # measured jobs, whose spread grows with them.
        (0.0, 100.0, (100.0, 30.0, 900 - 2.3263478740408408 * 30.0)),
        (900 - 2.3263478740408408 * 15.0, 100.0, (100.0, 30.0, 900 - 2.3263478740408408 * 30.0)),
        # A target the user wrote stays theirs.
        (600.0, 100.0, (100.0, 30.0, 600.0)),
        # Measured as configured: the role itself.
        (0.0, 50.0, (50.0, 15.0, 0.0)),
    ],
)
def test_3_a_role_as_measured_keeps_the_spread_and_a_written_target(
    target: float, job_time: float, expected: tuple[float, float, float]
) -> None:
    slow = role(processing=50.0, stddev=15.0, deadline=900, target=target)
    measured = as_measured(slow, job_time)
    assert (measured.processing, measured.stddev, measured.target) == pytest.approx(expected)


def test_3_jobs_measured_longer_leave_less_slack_to_wait_in() -> None:
    # The start-by time (deadline less the slow run) was the configured
    # jobs' for ever: told 50 s, running 100 s, the plan let jobs wait the
    # 50 s the longer runs no longer leave.
    slow = role(processing=50.0, stddev=15.0, deadline=600, concurrency=1, minimum=0, maximum=8)
    model = DeadlineModel(slow)
    assert model.start_by == pytest.approx(start_by(slow))
    for i in range(12):
        model.decide(obs(30 * i, 40, unacked=4, current=4, publish_rate=0.04, ack_rate=0.04))
    assert model.start_by == pytest.approx(start_by(as_measured(slow, 100.0)))
    assert model.start_by < start_by(slow) - 50
    # A worker restarted from the saved state plans with the measured job time too.
    again = DeadlineModel(slow)
    again.restore(model.state())
    assert again.start_by == model.start_by


@pytest.mark.parametrize(
    ("in_flight", "ready", "polls", "said"),
    [
        # 2 s jobs, taken one error nearer the 1 s configured.
        (
            6,
            0,
            40,
            "jobs take 1.81 s as measured from jobs in flight over the ack rate, "
            "not the 1 s configured",
        ),
        (6, 0, 20, None),  # the in-flight samples sum to under 100 jobs: too few
        (3, 0, 60, None),  # 3 in flight at 3 acks/s: 1 s jobs, as configured
        (6, 4, 60, None),  # a queue at every poll: no Little's law
        (19, 0, 60, None),  # the slots full: jobs may wait in a prefetch
    ],
)
def test_3_a_fleet_its_headroom_keeps_idle_measures_its_jobs_by_littles_law(
    in_flight: int, ready: int, polls: int, said: str | None
) -> None:
    # Twenty slots run 3 jobs/s with no queue: never saturated, so the acks
    # per busy slot measured nothing, and a `processing` half the real one
    # sized the reserve for ever (development shortdeadline and steady
    # runs with `processing` halved: 17 missed where the fastest met).
    idle = role(processing=1.0, deadline=60, concurrency=2, minimum=10, maximum=20)
    decision = last(
        Scaler(idle),
        [
            obs(30 * i, ready, unacked=in_flight, current=10, publish_rate=3.0, ack_rate=3.0)
            for i in range(polls)
        ],
    )
    if said is None:
        assert "as measured" not in decision.reason
    else:
        assert said in decision.reason


# 4. A burst spanning two polls was taken for a lasting rate beyond the
# maximum, and the "outgrown" memory then kept every later queue empty.
def test_4_a_burst_across_two_polls_is_no_lasting_rate_nor_an_overload() -> None:
    imports = role(processing=1.0, deadline=300, concurrency=8, minimum=0, maximum=30)
    imports = dataclasses.replace(imports, pollinterval=10.0)
    calm = [obs(10 * i, 0, current=1, publish_rate=0.5, ack_rate=0.5) for i in range(10)]
    burst = [
        obs(100, 2700, current=1, publish_rate=270.0, ack_rate=8.0),
        obs(110, 5300, current=30, consumers=1, publish_rate=270.0, ack_rate=8.0),
    ]
    after = [obs(120 + 10 * i, 0, current=1, publish_rate=0.5) for i in range(30)]
    scaler = Scaler(imports)
    last(scaler, calm + burst + after)
    # A later import of 1,000 jobs one dyno (8 jobs/s) clears in 125 s.
    decision = last(scaler, [obs(420, 1000, current=1, publish_rate=100.0)])
    assert decision.desired <= 2, decision
    assert "outgrew" not in decision.reason


# 5. With boot plus a poll past the slack, only running dynos meet a burst.
def test_5_too_slow_to_react_keeps_headroom_and_names_it() -> None:
    tight = role(processing=0.2, deadline=40, concurrency=4, minimum=0, maximum=20, boot=60)
    stream = [obs(30 * i, 0, unacked=4, current=2, publish_rate=20.0) for i in range(6)]
    decision = last(Scaler(tight), stream)
    # 4 busy slots; 4 + 2.33·√(0.2/39)·√4 slots round to 2 dynos.
    assert decision.desired >= 2
    assert "headroom" in decision.reason and "no time to react" in decision.reason

    # A burst of 6,000 jobs seen and gone: a reserve for the next is kept.
    # (The stream is watched for 31 minutes first: before that, a new
    # stream's unseen peak, 8 times its rate, is staffed for, and covers
    # more than the burst does.)
    scaler = Scaler(tight)
    last(scaler, [obs(30 * i, 0, unacked=4, current=2, publish_rate=20.0) for i in range(62)])
    scaler.decide(obs(1860, 2000, unacked=4, current=2, publish_rate=200.0))
    scaler.decide(obs(1890, 0, unacked=4, current=8, publish_rate=20.0))
    decision = last(scaler, [obs(1920 + 30 * i, 0, unacked=4, current=8, publish_rate=20.0)
                             for i in range(3)])  # fmt: skip
    assert decision.desired > 2
    assert "for bursts like the last 30 min's" in decision.reason


# 6. The plan used the rules' pollinterval, not the real time between polls.
def test_6_the_real_interval_between_observations_is_planned_with() -> None:
    burst = role(processing=1.0, stddev=0.3, deadline=180, concurrency=1, minimum=0, maximum=40)

    def at(rules_poll: float) -> int:
        scaler = Scaler(dataclasses.replace(burst, pollinterval=rules_poll))
        polls = [obs(0, 0, current=0), obs(60, 0, current=0), obs(120, 3000, current=0)]
        return last(scaler, polls).desired

    # Observed every 60 s: the same plan whatever the rules say.
    assert at(10.0) == at(60.0)
    assert at(60.0) > at(10.0) - 1 or at(60.0) >= 1


@pytest.mark.parametrize("poll", [10.0, 15.0, 30.0, 60.0])
def test_6_a_burst_from_zero_meets_the_deadline_at_every_poll_interval(poll: float) -> None:
    ten_k = Trace("10k", [0.0] * 10_000, 1.0, 0.3, 180.0, 1, 0, 80, pollinterval=poll)
    result = run_trace(ours(ten_k.role()), ten_k, seed=0)
    assert result.within == 1.0


# 7. guv's "P 60, D 61, stddev 30, max 4, N 40 -> 4" is in test_rules_warnings.py.


def claimed_jobs(decisions: list[tuple[float, int, str]], arrivals: list[float]) -> set[int]:
    """Jobs queued at a poll whose reason said they finish within the deadline."""
    out: set[int] = set()
    published = 0
    for t, messages, reason in decisions:
        while published < len(arrivals) and arrivals[published] <= t:
            published += 1
        if "within the deadline" in reason:
            out.update(range(max(0, published - messages), published))
    return out


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_within_the_deadline_claims_agree_with_the_simulation(family: str) -> None:
    for seed in range(3):
        for poll in (10.0, 60.0):
            trace = with_poll(FAMILIES[family](seed), poll)
            r = trace.role()
            policy = Recording(ours(r))
            result = run_trace(policy, trace, r, seed=seed, config=SimConfig(tail=3600.0))
            seen = [(o.t, o.messages or 0, d.reason) for o, d in policy.seen]
            claimed = claimed_jobs(seen, trace.arrivals)
            if not claimed:
                continue
            late = [j for j in claimed if result.finish[j] - trace.arrivals[j] > r.deadline]
            # The percentile's share may miss (heavy-tailed job times a little
            # more), give or take three standard deviations of a binomial count.
            expected = ((1 - r.percentile / 100) + 0.01) * len(claimed)
            allowed = expected + 3 * expected**0.5 + 1
            assert len(late) <= allowed, (family, seed, poll, len(late), len(claimed))


# Racing the boot: a job only an early boot can save gets several dynos booting
# (the first to land takes it), and the extras are shed once it has started.
def test_a_job_only_an_early_boot_saves_gets_a_race_then_the_extras_go() -> None:
    sparse = role(processing=15.0, stddev=5.0, deadline=78, concurrency=8, minimum=0, maximum=16)
    sparse = dataclasses.replace(sparse, boot=70.0, pollinterval=10.0)
    scaler = Scaler(sparse)
    first = last(scaler, [obs(0, 0, current=0), obs(10, 1, current=0, publish_rate=0.1)])
    assert first.desired > 1
    assert "racing the boot" in first.reason
    held = scaler.decide(obs(20, 1, consumers=0, current=first.desired))
    assert held.desired == first.desired  # booting dynos stay while the job waits
    started = scaler.decide(obs(60, 0, unacked=1, consumers=1, current=first.desired))
    # The job runs on any of the 16 (the others may land before the stop)
    # and outlasts the 30 s grace once in 93: shedding 14 kills it with a
    # 0.94 % chance, what the 99th percentile lets miss; a 15th would not.
    assert started.desired == 2


# A job due after the nominal boot but before a late one is at risk too: with
# one dyno booting, a late draw (boot +30 %) misses it; several booting make
# it likely that one lands in time. Only jobs due before the nominal boot were
# raced before (onoff-6 at 30 s and heavytail-16 at 10 s missed where the
# fastest policy met). A job missed only by a late boot is a chance, so the
# share let miss is of the rate seen: at a cold start the first rate counts
# for the hour, and 53 jobs are fewer than that share.
@pytest.mark.parametrize(
    ("deadline", "quiet", "raced"),
    [
        (38, 1800, True),  # due 28 s from now: after the nominal landing (25 s), before a late one
        (38, 0, False),  # a cold start: 1 % of an hour at 5.3 jobs/s is more than 53
        (45, 1800, False),  # due 35 s from now: after the latest landing (32 s)
    ],
)
def test_jobs_a_late_boot_would_miss_get_a_race(deadline: float, quiet: int, raced: bool) -> None:
    fast = role(processing=0.077, stddev=0.05, deadline=deadline, concurrency=10, maximum=8)
    fast = dataclasses.replace(fast, minimum=0, boot=24.0, pollinterval=10.0)
    seen = [obs(t, 0, current=0) for t in range(0, quiet + 1, 10)]
    seen.append(obs(quiet + 10, 53, current=0, publish_rate=5.3))
    first = last(Scaler(fast), seen)
    assert ("racing the boot" in first.reason) is raced
    assert (first.desired > 1) is raced
    # Fast jobs: the first dynos to land start them all, so fewer than the maximum.
    assert first.desired < fast.maximum


@pytest.mark.parametrize(("family", "seed", "poll"), [("onoff", 6, 30.0), ("heavytail", 16, 10.0)])
def test_a_late_boots_race_meets_as_the_fastest_does(family: str, seed: int, poll: float) -> None:
    ours_run, fastest = ours_and_fastest(family, seed, poll)
    assert ours_run.meets and fastest.meets
    assert ours_run.dyno_hours < 0.4 * fastest.dyno_hours


# Heroku stops the highest-numbered dynos first, landed or not. A race's 16
# dynos, 2 of them landed, were shed to 2 for a queue of 262 as if the booting
# ones went first; a landed one was stopped, and 80 jobs of that minute
# were late where the fastest had 28 (development onoff-26 at 10 s).
def test_shedding_a_races_dynos_counts_on_heroku_stopping_the_newest() -> None:
    ours_run, fastest = ours_and_fastest("onoff", 26, 10.0)
    assert ours_run.within >= fastest.within
    assert ours_run.dyno_hours < 0.4 * fastest.dyno_hours


def test_racing_the_boot_matches_the_fastest_on_a_few_jobs_an_hour() -> None:
    for seed in (5, 28):
        ours_run, fastest = ours_and_fastest("sparse", seed, 10.0)
        assert ours_run.within >= fastest.within - 0.01, (seed, ours_run.within, fastest.within)
        assert ours_run.dyno_hours < fastest.dyno_hours


# 5. A burst that lasts several polls is no `bursts` entry: its peak rate is
# remembered, and a role too slow to react keeps dynos for it afterwards.
def test_5_the_peak_of_minutes_of_higher_load_is_staffed_for_afterwards() -> None:
    tight = role(processing=0.5, deadline=20, concurrency=4, minimum=1, maximum=8, boot=60)
    tight = dataclasses.replace(tight, pollinterval=10.0)
    # Half an hour of the base rate first: the stream's peaks are then known.
    base = [obs(10 * i, 0, unacked=2, current=2, publish_rate=5.0) for i in range(190)]
    before = last(Scaler(tight), base)
    scaler = Scaler(tight)
    last(scaler, base)
    # Three minutes at 6x, then back to the base rate.
    last(scaler, [obs(1900 + 10 * i, 0, unacked=8, current=8, publish_rate=30.0)
                  for i in range(18)])  # fmt: skip
    after = last(scaler, [obs(2080 + 10 * i, 0, unacked=2, current=8, publish_rate=5.0)
                          for i in range(12)])  # fmt: skip
    assert after.desired > before.desired
    assert "for a peak of 30 jobs/s in the last 30 min" in after.reason


# 5. Where no dyno asked for at a rise's first sight starts a job in time
# (boot no shorter than the deadline), the first burst of a stream found only
# the reserve for its noise: shortdeadline-15 (development seeds) held 2 dynos
# for 5.5 jobs/s until a minute of 36 jobs/s came, and 12 % of jobs missed at
# every poll interval where the fastest policy missed none. Until half an hour
# of the stream has shown its peaks, one of a multiple of its rate is staffed for.
@pytest.mark.parametrize(
    ("boot", "minutes", "at_least", "named"),
    [
        (60.0, 1, 6, True),  # a new stream: the unknown peak
        (60.0, 20, 3, True),  # fading as the watch goes on
        (60.0, 40, 1, False),  # watched long enough: its noise only
        (10.0, 1, 1, False),  # a dyno asked for at a rise lands in time
    ],
)
def test_5_a_new_stream_too_slow_to_react_to_keeps_a_reserve_for_a_peak_not_yet_seen(
    boot: float, minutes: int, at_least: int, named: bool
) -> None:
    tight = role(processing=0.5, deadline=20, concurrency=4, minimum=1, maximum=8, boot=boot)
    tight = dataclasses.replace(tight, pollinterval=10.0)
    polls = [obs(10 * i, 0, unacked=2, current=2, publish_rate=5.0) for i in range(6 * minutes)]
    decision = last(Scaler(tight), polls)
    assert decision.desired >= at_least, decision
    assert ("until 30 min of the stream show its peaks" in decision.reason) is named
    if not named:
        assert decision.desired <= 2, decision


@pytest.mark.parametrize("poll", [10.0, 60.0])
def test_5_the_first_burst_of_a_stream_too_slow_to_react_to_meets(poll: float) -> None:
    ours_run, fastest = ours_and_fastest("shortdeadline", 15, poll)
    assert fastest.meets
    assert ours_run.meets, ours_run.within


# When no dyno asked for now lands before a queued job's start-by, a rise is
# believed at once: waiting for it to last queued every later job behind it.
def test_a_rise_is_believed_at_once_when_no_boot_could_wait_for_it() -> None:
    hopeless = role(processing=3.5, stddev=1.7, deadline=24, concurrency=8, minimum=1, maximum=10)
    hopeless = dataclasses.replace(hopeless, boot=90.0, pollinterval=60.0)
    polls = [
        obs(0, 0, current=1, publish_rate=0.0),
        obs(60, 197, unacked=8, current=1, publish_rate=5.7),
    ]
    decision = last(Scaler(hopeless), polls)
    assert decision.desired > 1
    assert "plus 5.7 jobs/s" in decision.reason


# 4. Once a stream is known, an interval that brought far more than it holds
# a burst, and when within the interval it came is unknown: all of its jobs
# are planned from its start. Spreading the stream's share evenly left an
# import landing just after a poll (spanning-24 at 60 s polls, two imports
# 110 s apart) looking a poll younger than it was: 683 jobs missed.
def test_4_an_interval_holding_a_burst_is_aged_from_its_start_stream_and_all() -> None:
    imports = role(processing=1.18, stddev=0.85, deadline=341, concurrency=1, minimum=1)
    imports = dataclasses.replace(imports, maximum=20, boot=39.0, pollinterval=60.0)
    quiet = [obs(60 * i, 0, current=1, publish_rate=0.0) for i in range(29)]
    import_ = [
        obs(1740, 895, unacked=1, current=1, publish_rate=14.95, ack_rate=0.02),
        obs(1800, 1654, unacked=5, current=5, publish_rate=14.93, ack_rate=2.22),
        obs(1860, 3350, unacked=8, current=8, publish_rate=33.35, ack_rate=5.03),
        obs(1920, 4843, unacked=15, current=15, publish_rate=33.32, ack_rate=8.32),
    ]
    decision = last(Scaler(imports), quiet + import_)
    assert decision.desired == 20, decision


# 5. Readings a little above a steady mean are its Poisson noise, not a rise:
# staffing for them as a peak kept a second dyno idle for half an hour
# (public steady trace, seed 3: 1.66x the cheapest peer that met).
# 5. An empty poll of a thin stream is noise, not a stop: a 0.2 jobs/s stream
# leaves a 15 s poll empty one time in twenty. Taken for a stop, it shed the
# headroom before any rate was shown to last, and the next job raced 17 dynos
# (diurnal-11 at 15 s: 1.47 dyno-hours, guv 0.87). The stream is known by its
# recent peak until it has been silent for longer than its rate explains.
@pytest.mark.parametrize(("silent_polls", "kept"), [(1, True), (6, False)])
def test_5_one_empty_poll_of_a_thin_stream_keeps_the_headroom(
    silent_polls: int, kept: bool
) -> None:
    thin = role(processing=0.12, stddev=0.05, deadline=82, concurrency=8, minimum=0, maximum=30)
    thin = dataclasses.replace(thin, boot=81.0, pollinterval=15.0)
    seen = [
        obs(0, 0, current=0),
        obs(15, 3, current=0, publish_rate=0.2),
        obs(30, 6, current=4, consumers=0, publish_rate=0.2),
        obs(45, 10, current=4, consumers=0, publish_rate=0.27),
        obs(60, 0, current=4, publish_rate=0.2),
    ]
    seen += [obs(60 + 15 * i, 0, current=4) for i in range(1, silent_polls + 1)]
    after = last(Scaler(thin), seen)
    assert after.desired == (1 if kept else 0)
    assert ("headroom" in after.reason) is kept


def test_5_noise_above_a_steady_mean_is_no_peak_to_staff_for() -> None:
    steady = role(processing=0.3, stddev=0.15, deadline=60, concurrency=10, minimum=0)
    steady = dataclasses.replace(steady, maximum=20, boot=30.0, pollinterval=30.0)
    calm = [obs(30 * i, 0, unacked=9, current=1, publish_rate=30.0) for i in range(40)]
    noisy = [obs(1200 + 30 * i, 0, unacked=9, current=1, publish_rate=31.9) for i in range(2)]
    after = [obs(1260 + 30 * i, 0, unacked=9, current=1, publish_rate=30.0) for i in range(20)]
    scaler = Scaler(steady)
    decisions = [scaler.decide(o) for o in calm + noisy + after]
    assert {d.desired for d in decisions[-20:]} == {1}, decisions[-1]
    assert not any("peak" in d.reason for d in decisions[-20:])


# 1, again. An import seen in a 60 s interval, with a 60 s deadline: aged from
# the interval's start, as a burst's jobs are, every one looked already lost,
# so the model asked for the stream's 4 dynos and none for the import. It may
# have landed just before the poll (heavytail-21 at 60 s: it had, and 1,504
# jobs missed where the maximum at first sight missed none): an early boot may
# save it, so the boot is raced for it.
def test_1_an_import_that_may_still_be_saved_is_not_taken_for_lost() -> None:
    heavy = role(processing=0.31, stddev=0.27, deadline=60, concurrency=8, minimum=1)
    heavy = dataclasses.replace(heavy, maximum=30, boot=39.0, pollinterval=60.0)
    stream = [
        obs(60 * i, 0, unacked=2, current=1, publish_rate=5.2, ack_rate=5.2) for i in range(10)
    ]
    landed = obs(600, 1954, unacked=8, current=1, publish_rate=55.75, ack_rate=23.08)
    decision = last(Scaler(heavy), [*stream, landed])
    assert decision.desired == 30, decision
    assert "racing the boot" in decision.reason


# 6. A burst seen in the interval just ended may still be coming: until the
# next poll shows whether it goes on, the plan counts it going on (`Poll.surge`).
# spanning-24 at 60 s: a second import landing just after a poll was planned as
# if over, and 3 % of jobs missed where the fastest missed none.
def test_6_a_burst_is_planned_to_go_on_until_the_next_poll_sees_it() -> None:
    ours_run, fastest = ours_and_fastest("spanning", 24, 60.0)
    assert fastest.meets
    assert ours_run.meets, ours_run.within
    assert ours_run.dyno_hours < 0.8 * fastest.dyno_hours


@pytest.mark.parametrize(("boot", "named"), [(60.0, True), (15.0, False)])
def test_5_validate_says_when_a_new_stream_gets_a_reserve_for_an_unseen_peak(
    boot: float, named: bool
) -> None:
    tight = role(processing=0.5, deadline=20, concurrency=4, minimum=1, maximum=8, boot=boot)
    warning = reaction_warning(tight)
    assert warning is not None and "only dynos already running" in warning
    assert ("for a new stream's first 30 min" in warning) is named


# A scale-up the reserve or the race made bigger said the load "needs" every
# dyno asked for ("backlog 3 plus 6.43 jobs/s needs 8 dynos"): it names what
# the load needs and what the rest are for.
def test_a_scale_up_for_headroom_says_what_the_load_itself_needs() -> None:
    tight = role(processing=0.5, deadline=20, concurrency=4, minimum=2, maximum=8, boot=60)
    tight = dataclasses.replace(tight, pollinterval=30.0)
    polls = [obs(0, 0, current=2), obs(30, 0, unacked=3, current=2, publish_rate=6.4)]
    decision = last(Scaler(tight), polls)
    assert decision.desired > 2, decision
    assert "needs 2 dynos to finish by the deadline" in decision.reason
    assert "; the rest for headroom (headroom: " in decision.reason


# 5. A reserve following the noise of a thin stream's rate asked for a dyno
# one poll and shed it, still booting, the next: bulk-15 at 10 s polls did so
# 15 times in 45 minutes, and none of those dynos served a job. A dyno asked
# for as headroom is kept for a boot and a poll.
def test_5_a_dyno_asked_for_as_headroom_is_not_shed_while_it_boots() -> None:
    trace = with_poll(FAMILIES["bulk"](15), 10.0)
    r = trace.role()
    policy = Recording(ours(r))
    run_trace(policy, trace, r, seed=15)
    seen = [(o.t, d) for o, d in policy.seen]
    ups = [(t, d.desired) for t, d in seen if "the rest for headroom" in d.reason]
    assert ups
    for t_up, desired in ups:
        soon = [d.desired for t, d in seen if t_up < t < t_up + r.boot + r.pollinterval]
        assert min(soon, default=desired) >= desired, (t_up, desired, soon)


# 2. (the target where nothing meets) An on/off stream whose dynos boot for
# longer than its deadline: each on-period came back to one dyno booting for
# the few jobs queued at its first poll, while those published during the
# boot queued behind it; the maximum at first sight missed only the jobs no
# boot could save. Jobs still to come before a late boot are raced for too,
# at the peak the last on-period showed (onoff-26: 12.9 points worse than the
# fastest at 60 s before).
@pytest.mark.parametrize("poll", [30.0, 60.0])
def test_an_on_off_stream_coming_back_misses_no_more_than_the_fastest(poll: float) -> None:
    trace = with_poll(FAMILIES["onoff"](26), poll)
    r = trace.role()
    assert r.boot > r.deadline
    ours_run = run_trace(ours(r), trace, r, seed=26)
    fastest = run_trace(Fastest(r), trace, r, seed=26)
    assert not fastest.meets
    assert ours_run.within >= fastest.within - 0.01, (ours_run.within, fastest.within)
    assert ours_run.dyno_hours < 0.5 * fastest.dyno_hours


# 5. A remembered peak is staffed for as its rise above the rate it rose from,
# on top of the rate now, never above itself; once the stream has stopped, as
# itself (a stream coming back likely comes back at it).
@pytest.mark.parametrize(
    ("peak", "lasting", "staffed"),
    [
        ((0.0, 30.0, 5.0), 5.0, 30.0),  # minutes of 6x, back to the base: the peak
        ((0.0, 5.7, 5.3), 1.0, 1.4),  # a diurnal top, the rate fallen: followed down
        ((0.0, 5.7, 5.3), 0.0, 5.7),  # the stream stopped: the peak itself
        ((0.0, 5.0, 0.0), 8.0, 5.0),  # the rate rose past it: never above the peak
    ],
)
def test_5_a_peak_is_staffed_for_as_its_rise_on_the_rate_now(
    peak: tuple[float, float, float], lasting: float, staffed: float
) -> None:
    assert peak_now(Peak(*peak), lasting) == pytest.approx(staffed)


def test_5_a_diurnal_decline_is_followed_down_not_held_at_its_top() -> None:
    # diurnal-22 at 60 s polls kept 7 dynos for 30 min as the rate fell from
    # 5.7 to 0.4 jobs/s: 5.32 dyno-hours where guv met with 3.28.
    trace = with_poll(FAMILIES["diurnal"](22), 60.0)
    r = trace.role()
    policy = Recording(ours(r))
    result = run_trace(policy, trace, r, seed=22)
    assert result.meets
    assert result.dyno_hours < 4.5
    assert any("followed down as the rate falls" in d.reason for _, d in policy.seen)


def test_5_peaks_saved_without_their_base_are_staffed_for_as_before() -> None:
    scaler = Scaler(role(processing=0.5, deadline=20, concurrency=4, maximum=8, boot=60))
    state = scaler.state()
    state["peaks"] = [[100.0, 30.0]]
    scaler.restore(state)
    # A base of 0: the peak itself, whatever the rate now (the table above).
    assert scaler.state()["peaks"] == [[100.0, 30.0, 0.0]]
