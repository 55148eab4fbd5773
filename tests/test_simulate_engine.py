"""The simulator on workloads small enough to check by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guvscale.scaling.types import Observation
from guvscale.simulate import EPOCH, SimConfig, draw_durations, run, run_trace
from guvscale.simulate.traces import Trace
from tests.factories import Scripted, erratic
from tests.factories import sim_role as role

EXACT = SimConfig(boot_jitter=0.0)  # boot takes exactly role.boot


def on_demand(obs: Observation) -> int:
    """One dyno while there is any message, else none."""
    return 1 if (obs.messages or 0) > 0 else 0


def test_one_job_one_dyno_billed_from_request_to_stop() -> None:
    # poll 0 sees the job; request at 1; boots 31; runs 31..33; poll 60 sees
    # nothing; stop at 61. Billed 1..61.
    r = run(Scripted(on_demand), role(), [0.0], [2.0], config=EXACT)
    assert (r.jobs, r.done) == (1, 1)
    assert r.p50 == pytest.approx(33.0)
    assert r.within == 1.0 and r.meets
    assert r.dyno_hours * 3600 == pytest.approx(60.0)
    assert r.scale_ops == 2
    assert r.max_dynos == 1
    assert r.back_at == pytest.approx(61.0)
    assert r.back_to_min == pytest.approx(28.0)
    assert r.end == pytest.approx(61.0) and not r.capped
    assert r.efficiency == pytest.approx(60.0 / 2.0)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_boot_delay_with_jitter_is_respected(seed: int) -> None:
    r = run(Scripted(on_demand), role(), [0.0], [1.0], seed=seed)
    # requested at 1, consuming after 30 s ± 30 %, then 1 s of work
    assert 1 + 21 + 1 <= r.p50 <= 1 + 39 + 1


def test_boot_jitter_differs_between_seeds() -> None:
    lat = {run(Scripted(on_demand), role(), [0.0], [1.0], seed=s).p50 for s in range(5)}
    assert len(lat) == 5


def test_concurrency_caps_jobs_per_dyno() -> None:
    # one dyno, two slots, four 20 s jobs: two run 31..51, two 51..71
    script = Scripted(on_demand)
    r = run(script, role(concurrency=2), [0.0] * 4, [20.0] * 4, config=EXACT)
    assert r.p50 == pytest.approx(51.0)
    assert r.p99 == pytest.approx(71.0)
    assert r.max_dynos == 1
    at60 = script.seen[2]
    assert (at60.t, at60.ready, at60.unacked, at60.consumers) == (60.0, 0, 2, 1)


def test_jobs_spread_over_dynos_and_queue_waits() -> None:
    # two dynos already running, three 10 s jobs at once: the third waits
    r = run(
        Scripted(lambda o: 2 if (o.messages or 0) else 0),
        role(),
        [0.0, 0.0, 0.0],
        [10.0] * 3,
        config=SimConfig(boot_jitter=0.0, initial=2),
    )
    lat = sorted([r.p50, r.p99])
    assert lat == [pytest.approx(10.0), pytest.approx(20.0)]


def test_scale_down_lets_a_job_finish_within_the_grace() -> None:
    # d0 runs a 100 s job, d1 (newest) a 10 s one; scaling to 1 at t=1 stops
    # d1, which finishes its job at 10 and stops then: no redelivery.
    script = Scripted(lambda o: 1 if o.t < 30 or (o.messages or 0) else 0)
    cfg = SimConfig(boot_jitter=0.0, initial=2)
    r = run(script, role(), [0.0, 0.0], [100.0, 10.0], config=cfg)
    assert r.redeliveries == 0
    assert r.done == 2
    # d1 billed 0..10; d0 0..121 (poll 120 sees an empty queue, applies at 121)
    assert r.dyno_hours * 3600 == pytest.approx(10.0 + 121.0)


def test_scale_down_kills_after_grace_and_redelivers_to_the_front() -> None:
    # d1 (newest) holds a 100 s job; stopping it at 1 kills the job at 31 and
    # puts it back at the front of the queue, ahead of a job published at 20.
    script = Scripted(lambda o: 1 if o.t < 30 or (o.messages or 0) else 0)
    cfg = SimConfig(boot_jitter=0.0, initial=2)
    r = run(script, role(), [0.0, 0.0, 20.0], [50.0, 100.0, 5.0], config=cfg)
    assert r.redeliveries == 1
    assert r.done == 3
    # d0: job0 0..50, then the redelivered job1 50..150, then job2 150..155;
    # latencies 50, 150, 135 (job2 first would give 50, 155, 35)
    assert r.p50 == pytest.approx(135.0)
    assert r.p99 == pytest.approx(150.0)
    # d1 billed 0..31 (killed at the grace); d0 0..181 (poll 180 sees 0)
    assert r.dyno_hours * 3600 == pytest.approx(31.0 + 181.0)


def test_stopping_dyno_takes_no_new_job() -> None:
    # d1 finishes its 5 s job at 5 while stopping: job2 must wait for d0 (50 s)
    script = Scripted(lambda o: 1 if o.t < 30 or (o.messages or 0) else 0)
    cfg = SimConfig(boot_jitter=0.0, initial=2)
    r = run(script, role(), [0.0, 0.0, 0.0], [50.0, 5.0, 5.0], config=cfg)
    assert r.redeliveries == 0
    assert r.p99 == pytest.approx(55.0)
    assert r.dyno_hours * 3600 == pytest.approx(5.0 + 61.0)


def test_scaling_down_a_booting_dyno_stops_it_at_once() -> None:
    # t=0: ask 1 (billed from 1); t=30: ask 0 (at 31, still booting: boot 60).
    # The job at 200: ask at 210 -> 211, boots 271, runs 271..272, stop at 301.
    def rule(o: Observation) -> int:
        if o.t == 0:
            return 1
        return 1 if (o.messages or 0) else 0

    r = run(Scripted(rule), role(boot=60.0), [200.0], [1.0], config=EXACT)
    assert r.dyno_hours * 3600 == pytest.approx(30.0 + 90.0)
    assert r.p50 == pytest.approx(72.0)
    assert r.scale_ops == 4


def test_observation_is_what_the_management_api_shows() -> None:
    # one job a second; one dyno (two slots) already running; 0.5 s jobs
    arrivals = [float(i) for i in range(90)]
    script = Scripted(lambda o: 1)
    run(script, role(concurrency=2, minimum=1), arrivals, [0.5] * 90, config=EXACT)
    first, second = script.seen[0], script.seen[1]
    assert first.t == 0.0 and first.now == EPOCH
    assert first.publish_rate == pytest.approx(1 / 30)  # the job at t=0 only
    assert (first.ready, first.unacked, first.consumers, first.current) == (0, 1, 1, 1)
    assert second.t == 30.0
    assert second.now is not None and (second.now - EPOCH).total_seconds() == 30.0
    assert second.publish_rate == pytest.approx(1.0)  # 1..30
    assert second.ack_rate == pytest.approx(1.0)  # 0..29 finished
    assert (second.ready, second.unacked) == (0, 1)


def test_backlog_seen_as_ready_plus_unacked() -> None:
    script = Scripted(lambda o: 1)
    run(script, role(concurrency=3, minimum=1), [0.0] * 10, [100.0] * 10, config=EXACT)
    assert (script.seen[0].ready, script.seen[0].unacked) == (7, 3)
    assert script.seen[0].messages == 10


def test_minimum_tail_is_not_charged_after_the_last_publish() -> None:
    # min 1: the one dyno runs all along; only its time until the publish counts
    r = run(Scripted(lambda o: 1), role(minimum=1), [5.0], [2.0], config=EXACT)
    assert r.end == pytest.approx(7.0)
    assert r.dyno_hours * 3600 == pytest.approx(5.0)
    assert r.back_to_min == 0.0


def test_time_below_the_minimum_after_the_last_publish_is_not_a_credit() -> None:
    # min 1, two dynos until 61, then none until the job at 100 is seen (poll
    # 120: one dyno from 121; the run ends at 152, the job done). Until the
    # publish at 100: d0 0..61 + d1 1..61; after it nothing is above the
    # minimum. Charging the minimum off the whole tail took the 21 s with no
    # dyno at all (100..121) as a credit and billed 100 s.
    def rule(o: Observation) -> int:
        return 2 if o.t < 50 else on_demand(o)

    r = run(Scripted(rule), role(minimum=1), [0.0, 100.0], [1.0, 1.0], config=EXACT)
    assert r.done == 2 and r.end == pytest.approx(152.0)
    assert r.dyno_hours * 3600 == pytest.approx(61.0 + 60.0)


def test_a_policy_that_never_scales_is_cut_at_the_cap() -> None:
    r = run(Scripted(lambda o: 0), role(), [0.0, 10.0], [1.0, 1.0], config=SimConfig(tail=600))
    assert r.capped and r.end == pytest.approx(610.0)
    assert r.done == 0 and r.within == 0.0 and not r.meets
    assert math.isinf(r.p99)
    assert r.dyno_hours == 0.0


def test_a_policy_that_never_comes_back_down_is_not_back_to_min() -> None:
    r = run(Scripted(lambda o: 1), role(), [0.0], [1.0], config=SimConfig(tail=300))
    assert r.capped and r.back_at is None and r.back_to_min is None


def test_series_has_one_sample_per_poll() -> None:
    r = run(Scripted(on_demand), role(), [0.0] * 3, [5.0] * 3, config=EXACT)
    assert r.series.t == [0.0, 30.0, 60.0]
    assert r.series.queue == [3, 3, 0]  # the dyno consumes from 31
    assert r.series.requested == [0, 1, 1]
    assert r.series.running == [0, 0, 1]


def small_trace() -> Trace:
    arrivals = [i * 0.5 for i in range(400)]
    return Trace("t", arrivals, 2.0, 0.5, 60.0, 2, 0, 5, length=200.0)


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    def go(seed: int) -> Any:
        return run_trace(
            Scripted(lambda o: 2 if (o.messages or 0) else 0), small_trace(), seed=seed
        )

    a, b, c = go(7), go(7), go(8)
    assert a == b and a.series == b.series
    assert a != c


def test_durations_are_lognormal_with_the_mean_and_cv() -> None:
    d = draw_durations(20000, 2.0, 0.5, seed=1)
    mean = sum(d) / len(d)
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / len(d))
    assert mean == pytest.approx(2.0, rel=0.03)
    assert sd / mean == pytest.approx(0.5, rel=0.05)
    assert min(d) > 0
    assert draw_durations(3, 2.0, 0.0, seed=1) == [2.0, 2.0, 2.0]


@pytest.mark.parametrize(
    ("arrivals", "durations"),
    [([1.0, 0.0], [1.0, 1.0]), ([0.0], [1.0, 1.0]), ([-1.0], [1.0]), ([0.0], [0.0])],
)
def test_bad_workloads_are_refused(arrivals: list[float], durations: list[float]) -> None:
    with pytest.raises(ValueError):
        run(Scripted(on_demand), role(), arrivals, durations)


@pytest.mark.parametrize("bad", [{"pollinterval": 0.0}, {"concurrency": 0}, {"boot": -1.0}])
def test_roles_the_simulator_cannot_run_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="pollinterval > 0"):
        run(Scripted(on_demand), role(**bad), [0.0], [1.0])


def test_no_jobs_ends_at_once() -> None:
    r = run(Scripted(on_demand), role(), [], [])
    assert (r.jobs, r.end, r.dyno_hours, r.within) == (0, 0.0, 0.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    jobs=st.lists(st.tuples(st.floats(0, 300), st.floats(0.1, 80)), min_size=1, max_size=40),
    conc=st.integers(1, 3),
    wobble=st.integers(0, 10**6),
)
def test_every_job_finishes_once_and_billing_covers_the_work(
    jobs: list[tuple[float, float]], conc: int, wobble: int
) -> None:
    # A policy that scales erratically for 10 minutes (killing busy dynos),
    # then serves the queue with one dyno: all work must end up done, and
    # the billed time can never be less than the work it ran.
    jobs.sort()
    arrivals, durations = [t for t, _ in jobs], [d for _, d in jobs]

    rule = erratic(wobble)

    r = run(Scripted(rule), role(concurrency=conc), arrivals, durations, seed=wobble)
    assert r.done == r.jobs and not r.capped
    assert r.p50 >= min(durations) - 1e-9
    assert r.dyno_hours * 3600 >= sum(durations) / conc - 1e-6
    assert r.efficiency >= 1 - 1e-9
    assert r.back_at is not None and r.back_to_min is not None
