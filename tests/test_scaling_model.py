"""Our model (the default), decision by decision: what it asks for and why."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from guvscale.rules.types import ScheduleWindow
from guvscale.scaling import Decision, Observation, Scaler
from tests.factories import scaling_role as role

# burst3k's settings (scaling.md section 5).
BURST = role(processing=1.0, stddev=0.3, deadline=180, concurrency=1, minimum=0, maximum=25)
# A minute-long job, slowjobs' settings.
SLOW = role(processing=60.0, stddev=30.0, deadline=600, concurrency=2, minimum=0, maximum=40)


def obs(t: float, ready: int | None, **kw: Any) -> Observation:
    kw.setdefault("unacked", 0)
    kw.setdefault("consumers", kw.get("current", 0))
    kw.setdefault("publish_rate", 0.0)
    return Observation(t=t, ready=ready, **kw)


def run(scaler: Scaler, *observations: Observation) -> Decision:
    decision = None
    for o in observations:
        decision = scaler.decide(o)
    assert decision is not None
    return decision


def test_a_burst_from_zero_is_planned_over_the_deadline_after_boot() -> None:
    # An empty poll, then 3,000 jobs: with no stream known yet, the 100 jobs/s
    # that brought them may go on, and then not even the 25 allowed keep up.
    scaler = Scaler(BURST)
    first = run(scaler, obs(0, 0, current=0), obs(30, 3000, current=0, publish_rate=100.0))
    assert first == Decision(
        25,
        "scaling up 0 → 25 (the maximum): backlog 3,000 plus 100 jobs/s more that may "
        "go on needs more to meet the 180 s deadline",
    )
    # The next poll shows the burst over: 22 dynos start its jobs by the
    # deadline once they have booted; the 25 allowed are more than needed.
    after = scaler.decide(obs(60, 3000, current=25, publish_rate=0.0))
    assert after.desired == 22, after.reason


def test_longer_boots_need_more_dynos_for_the_same_backlog() -> None:
    wanted = []
    for boot in (5.0, 30.0, 60.0):
        scaler = Scaler(dataclasses.replace(BURST, boot=boot, maximum=100))
        decision = run(scaler, obs(0, 0, current=0), obs(30, 3000, current=0, publish_rate=100.0))
        wanted.append(decision.desired)
    assert wanted[0] < wanted[1] < wanted[2]


def test_a_backlog_beyond_the_maximum_asks_for_the_maximum_and_says_so() -> None:
    decision = run(Scaler(BURST), obs(0, 0, current=0), obs(30, 9000, current=0, publish_rate=300))
    assert decision.desired == 25
    assert "(the maximum)" in decision.reason
    assert "needs more to meet the 180 s deadline" in decision.reason


def test_a_burst_is_not_a_lasting_rate() -> None:
    spiky = role(processing=1.0, stddev=0.8, deadline=300, concurrency=8, minimum=0, maximum=30)
    scaler = Scaler(spiky)
    run(scaler, *(obs(30 * i, 10, unacked=8, current=1, publish_rate=2.0) for i in range(4)))
    decision = scaler.decide(obs(120, 4000, unacked=8, current=1, publish_rate=135.0))
    # The import's 135 jobs/s is not planned for as more arrivals: only the base 2/s.
    assert "plus 2 jobs/s" in decision.reason
    assert decision.desired >= 2  # 4,000 jobs are more than one dyno starts in time


def test_an_emptied_queue_sheds_the_dynos() -> None:
    scaler = Scaler(BURST)
    decision = run(scaler, *(obs(30 * i, 0, current=10, publish_rate=0.0) for i in range(3)))
    assert decision == Decision(0, "scaling down 10 → 0: queue empty")


def test_a_draining_backlog_sheds_what_it_no_longer_needs() -> None:
    # 22 dynos drain 3,000 jobs; with 200 left, 10 do as well as more could.
    # (Published within 0-30 s, the 200 may be 180 s old: no claim of "in time".)
    scaler = Scaler(BURST)
    run(scaler, obs(0, 0, current=0), obs(30, 3000, current=0, publish_rate=100.0))
    for t, ready, consuming in ((60, 3000, 0), (90, 2340, 22), (120, 1680, 22), (150, 1020, 22)):
        scaler.decide(obs(t, ready, current=22, consumers=consuming))
    decision = scaler.decide(obs(180, 200, current=22))
    assert decision == Decision(
        10, "scaling down 22 → 10: 10 dynos serve backlog 200 as well as more could in time"
    )


def test_the_first_poll_does_not_shed_what_a_stream_may_need() -> None:
    # One poll cannot tell a stream from a burst: hold until the rate is known.
    steady = role(processing=0.3, stddev=0.15, deadline=60, concurrency=10, minimum=0, maximum=20)
    decision = Scaler(steady).decide(obs(0, 0, unacked=9, current=1, publish_rate=30.0))
    assert decision == Decision(1, "holding 1: learning the publish rate")


def test_a_steady_stream_with_an_empty_queue_keeps_its_dyno() -> None:
    steady = role(processing=0.3, stddev=0.15, deadline=60, concurrency=10, minimum=0, maximum=20)
    scaler = Scaler(steady)
    decision = run(
        scaler, *(obs(30 * i, 0, unacked=9, current=1, publish_rate=30.0) for i in range(4))
    )
    assert decision.desired == 1
    assert "plus 30 jobs/s" in decision.reason


def test_busy_long_jobs_are_not_shed_while_the_queue_is_near_its_deadline() -> None:
    # 40 dynos run 80 jobs; 420 more have waited up to 7 minutes. Fewer dynos
    # would do, but shedding kills minute-long jobs past the 30 s grace, and a
    # redone job would now start too late. Short jobs finish within the grace.
    answers = {}
    for processing in (60.0, 2.0):
        scaler = Scaler(dataclasses.replace(SLOW, processing=processing, stddev=processing / 2))
        for i in range(15):
            decision = scaler.decide(obs(30 * i, 30 * i, unacked=80, current=40, publish_rate=1.0))
        answers[processing] = decision
    assert answers[60.0] == Decision(
        40, "holding 40: 80 jobs in flight could outrun the 30 s stop grace and be redone"
    )
    assert answers[2.0].desired < 40


@pytest.mark.parametrize(
    "missing",
    [
        {"ready": None},
        {"unacked": None},
        {"ready": None, "unacked": None, "publish_rate": None, "consumers": None},
    ],
)
def test_missing_queue_statistics_hold(missing: dict[str, Any]) -> None:
    scaler = Scaler(BURST)
    fields: dict[str, Any] = {"ready": 0, "unacked": 0, "current": 7, "publish_rate": 0.0}
    fields.update(missing)
    decision = scaler.decide(Observation(t=0, **fields))
    assert decision == Decision(7, "holding 7: queue statistics unavailable")


def test_an_unknown_formation_is_never_shrunk() -> None:
    scaler = Scaler(BURST)
    first = scaler.decide(obs(0, 3000, current=0, publish_rate=100.0))
    later = scaler.decide(obs(30, 0, current=None, consumers=None))
    assert later.desired >= first.desired
    assert "formation unknown" in later.reason


def test_a_schedule_window_bounds_the_answer() -> None:
    evenings = ScheduleWindow(
        days=frozenset(range(1, 8)), start=dt.time(18, 0), end=dt.time(23, 0), maximum=3
    )
    scaler = Scaler(dataclasses.replace(BURST, schedule=(evenings,)))
    at_seven = dt.datetime(2024, 5, 6, 19, 0, tzinfo=dt.UTC)
    decision = scaler.decide(obs(0, 3000, current=10, publish_rate=100.0, now=at_seven))
    assert decision.desired == 3
    assert decision.reason.startswith("scaling down 10 → 3: above the maximum now in force")


def test_eco_roles_never_ask_for_more_dynos_than_process_types() -> None:
    eco = dataclasses.replace(BURST, workers=("worker1", "worker2"), maximum=5)
    decision = Scaler(eco).decide(obs(0, 3000, current=0, publish_rate=100.0))
    assert decision.desired == 2


def test_reasons_are_one_line() -> None:
    scaler = Scaler(BURST)
    for o in (obs(0, 3000, current=0, publish_rate=100.0), obs(30, None, current=25)):
        assert "\n" not in scaler.decide(o).reason


def test_model_guv_and_steps_are_picked_by_the_role() -> None:
    from guvscale.rules.types import Step
    from guvscale.scaling.guv import GuvModel
    from guvscale.scaling.model import DeadlineModel
    from guvscale.scaling.steps import StepModel

    assert isinstance(Scaler(BURST).model, DeadlineModel)
    assert isinstance(Scaler(dataclasses.replace(BURST, model="guv")).model, GuvModel)
    stepped = dataclasses.replace(BURST, steps=(Step(0, 1), Step(10, 5)))
    assert isinstance(Scaler(stepped).model, StepModel)


def test_a_state_saved_under_another_model_is_not_fed_to_this_one() -> None:
    guv_state = {"model": "guv", "estimates": [4, 4, 4]}
    scaler = Scaler(BURST)
    scaler.restore(guv_state)
    assert scaler.state()["model"] == "guvscale"
    assert scaler.state()["t"] is None


def test_a_lasting_rate_beyond_the_maximum_asks_for_the_maximum_at_once() -> None:
    # 100 jobs/s of one-second jobs need 100 dynos for ever: waiting cannot help.
    # (A rate lasts once it fills more than 90 s: four 30 s polls.)
    scaler = Scaler(BURST)
    decision = run(scaler, *(obs(30 * i, 50, current=2, publish_rate=100.0) for i in range(4)))
    assert decision.desired == 25
    assert decision.reason.startswith("scaling up 2 → 25 (the maximum)")


def test_a_clock_that_goes_back_starts_afresh() -> None:
    # A state saved under one clock and restored under another must not make
    # queued jobs look younger than they are.
    fresh = Scaler(BURST).decide(obs(5, 3000, current=0, publish_rate=100.0))
    scaler = Scaler(BURST)
    run(scaler, *(obs(1000 + 30 * i, 0, current=0) for i in range(3)))
    assert scaler.decide(obs(5, 3000, current=0, publish_rate=100.0)) == fresh


def outgrown_then(quiet_polls: int) -> Scaler:
    """SLOW after 10 min of 2 jobs/s (more than 40 dynos serve: 1.33 jobs/s,
    which is what the acks show while the queue grows), then `quiet_polls`
    polls of 0.5 jobs/s with an empty queue."""
    scaler = Scaler(SLOW)
    run(
        scaler,
        *(obs(30 * i, 20 * i, current=40, publish_rate=2.0, ack_rate=1.33) for i in range(20)),
    )
    for i in range(quiet_polls):
        scaler.decide(obs(600 + 30 * i, 0, current=10, publish_rate=0.5))
    return scaler


@pytest.mark.parametrize("backlog", [20, 40, 60])
def test_for_an_hour_after_the_load_outgrew_the_maximum_no_job_waits(backlog: int) -> None:
    # A queue the deadline's slack would let wait is worked off at once while
    # the last overload is less than an hour old, so the next starts empty.
    def then(scaler: Scaler, t: float) -> Decision:
        return run(
            scaler, *(obs(t + 30 * i, backlog, current=10, publish_rate=0.5) for i in range(3))
        )

    calm = Scaler(SLOW)
    run(calm, *(obs(30 * i, 0, current=10, publish_rate=0.5) for i in range(20)))
    calm_decision = then(calm, 600)
    assert calm_decision.desired <= 10

    recent = outgrown_then(quiet_polls=0)
    saved = recent.state()
    recent_decision = then(recent, 600)
    assert recent_decision.desired > 10
    assert recent_decision.reason.endswith(
        "(no job waits: the load outgrew the maximum in the last 60 min)"
    )
    # The memory is part of the state.
    restored = Scaler(SLOW)
    restored.restore(saved)
    assert then(restored, 600) == recent_decision

    # An hour after, the slack is used again.
    assert then(outgrown_then(quiet_polls=130), 600 + 30 * 130) == calm_decision


def first_scale_up(maximum: int, polls: int = 12) -> tuple[float, int] | None:
    """(t, desired) of SLOW's first scale-up from 2 dynos under a stream of
    1 job/s (30 dynos' worth) that nobody serves yet, or None."""
    scaler = Scaler(dataclasses.replace(SLOW, maximum=maximum))
    # The stream was seen for two minutes before (a rate must last to count).
    run(scaler, *(obs(30 * i - 120, 0, current=2, publish_rate=1.0) for i in range(4)))
    for i in range(polls):
        decision = scaler.decide(obs(30 * i, 30 * i, current=2, publish_rate=1.0))
        if decision.desired > 2:
            return 30 * i, decision.desired
    return None


def test_a_load_close_to_the_maximum_spends_less_of_the_slack() -> None:
    # Far from the maximum (30 % of 100 dynos) the backlog may wait out most
    # of the deadline before dynos are added.
    assert first_scale_up(100) is None
    # At 83 % of the maximum only part of the slack is spent: dynos come
    # sooner, and sooner still the closer the load is to the maximum.
    at_36 = first_scale_up(36)
    at_34 = first_scale_up(34)
    assert at_36 is not None and at_34 is not None
    assert at_34[0] < at_36[0] <= 150
    # Past 90 % nothing waits: the first poll asks for most of what the stream
    # needs (30 dynos), the rest following as the next polls' plans land.
    at_33 = first_scale_up(33)
    assert at_33 is not None and at_33[0] == 0 and at_33[1] > at_34[1]
