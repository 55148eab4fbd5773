"""`scaling.history.History`: what the polls said, saved and restored as the
worker does between polls (the model's state keys are stored per role)."""

from __future__ import annotations

import pytest

from guvscale.scaling import Observation, Scaler
from guvscale.scaling.common import as_measured, start_by
from guvscale.scaling.history import History
from tests.factories import scaling_role as role

ROLE = role(processing=1.0, stddev=0.3, deadline=180, concurrency=2, minimum=0, maximum=10)
# The keys a saved state has held since before the history had its own
# module: a role's stored state must restore across that change.
SAVED_KEYS = {
    "t", "messages", "rates", "spans", "ready", "consumers", "ack_rate", "volume",
    "seen", "seen_w", "peaks", "redelivered_t", "busy_s", "acked", "bursts",
    "up_t", "believed", "outgrown_t", "handed_back", "reserve", "log",
}  # fmt: skip
# Kept since: the model's scale-ups whose dynos may still boot, the job
# time measured by Little's law over intervals with no queue, the first
# poll the arrival log has seen, and whether the job time was measured.
NEW_KEYS = {"asked", "idle_busy_s", "idle_acked", "idle_seen", "since", "measuring"}


def history() -> History:
    return History(ROLE, z=2.33, soonest_landing=35.0)


def polls(n: int, start: float = 0.0) -> list[Observation]:
    return [
        Observation(
            t=start + 15 * i,
            ready=40 * (i % 3),
            unacked=4,
            consumers=2,
            current=2,
            publish_rate=3.0 + 20 * (i == 5),
            ack_rate=2.0,
        )
        for i in range(n)
    ]


def test_a_restored_history_saves_what_it_was_given() -> None:
    seen = history()
    for o in polls(12):
        assert o.ready is not None and o.unacked is not None
        seen.observe(o, o.ready, o.unacked)
    restored = history()
    restored.restore(seen.state())
    assert restored.state() == seen.state()
    assert restored.interval == seen.interval == 15.0


def test_the_model_saves_the_same_keys_as_before_its_history_moved_out() -> None:
    scaler = Scaler(ROLE)
    for o in polls(4):
        scaler.decide(o)
    assert set(scaler.state()) - {"model"} == SAVED_KEYS | NEW_KEYS


def test_a_state_saved_before_the_scale_ups_were_kept_restores() -> None:
    scaler = Scaler(ROLE)
    for o in polls(4):
        scaler.decide(o)
    old = {k: v for k, v in scaler.state().items() if k not in NEW_KEYS}
    restored = Scaler(ROLE)
    restored.restore(old)
    assert restored.state()["asked"] == []
    later = polls(6)[-1]
    assert restored.decide(later) == scaler.decide(later)


def test_forgetting_the_clock_keeps_the_averages_and_drops_the_times() -> None:
    seen = history()
    for o in polls(8):
        assert o.ready is not None and o.unacked is not None
        seen.observe(o, o.ready, o.unacked)
    volume, seen_rate = seen.volume, seen.seen_rate()
    assert seen.went_back(0.0) and not seen.went_back(200.0)
    seen.forget_clock()
    assert (seen.t, seen.since, seen.rates, seen.peaks, seen.bursts) == (None, None, [], [], [])
    assert (seen.volume, seen.seen_rate()) == (volume, seen_rate)
    assert not seen.went_back(0.0)


def test_the_log_covers_a_span_once_polled_for_that_long() -> None:
    seen = history()
    for o in polls(8, start=100.0):  # t = 100 … 205
        assert o.ready is not None and o.unacked is not None
        seen.observe(o, o.ready, o.unacked)
    assert seen.since == 100.0
    assert seen.logged_for(105.0) and not seen.logged_for(106.0)


def test_a_state_saved_before_since_was_kept_is_logged_from_its_last_poll() -> None:
    # Jobs older than the log then cannot be told late until a deadline has
    # passed under the restored state, so none is taken to be by mistake.
    seen = history()
    for o in polls(8, start=100.0):
        assert o.ready is not None and o.unacked is not None
        seen.observe(o, o.ready, o.unacked)
    old = {k: v for k, v in seen.state().items() if k != "since"}
    restored = history()
    restored.restore(old)
    assert restored.since == 205.0 and not restored.logged_for(1.0)


@pytest.mark.parametrize(
    ("acks", "measured", "measuring", "job_time"),
    [
        # 12 acks of jobs configured at 50 s (cv 0.3): let in past 88 s, kept
        # down to 66 s once in.
        (12.0, 75.0, False, 50.0),
        (12.0, 75.0, True, 75.0),
        (12.0, 60.0, True, 50.0),
        (12.0, 95.0, False, 95.0),
        # 40 acks: let in 25 % off, kept while 12.5 % off.
        (40.0, 60.0, False, 50.0),
        (40.0, 60.0, True, 60.0),
        (40.0, 55.0, True, 50.0),
    ],
)
def test_a_measured_job_time_once_in_stays_until_it_comes_near(
    acks: float, measured: float, measuring: bool, job_time: float
) -> None:
    # A few acks more or fewer moved slow jobs' measurement across the
    # margin that lets it in and back, and each crossing re-sized the fleet:
    # scaled 2 → 7 → 2 → 6 in three polls, a boot paid twice and a job late
    # (development slow-11 at 10 s with `processing` half the truth).
    slow = role(processing=50.0, stddev=15.0, deadline=900, concurrency=1, minimum=0, maximum=8)
    seen = History(slow, z=2.33, soonest_landing=35.0)
    seen.acked, seen.busy_s, seen.measuring = acks, acks * measured, measuring
    assert seen.job_time == pytest.approx(job_time)


@pytest.mark.parametrize(
    ("acked", "busy_s", "job_time"),
    [
        (0.0, 0.0, 50.0),  # nothing measured: the configured jobs' start-by
        (40.0, 40 * 50.0, 50.0),  # measured as configured
        (40.0, 40 * 100.0, 100.0),  # twice as long: less slack to wait in
        (40.0, 40 * 20.0, 20.0),  # shorter: more
    ],
)
def test_the_history_keeps_the_start_by_of_the_job_time_in_use(
    acked: float, busy_s: float, job_time: float
) -> None:
    # One copy of the start-by time, retimed where the job time is measured:
    # the model read it from the history's `observe` and its own, and had
    # to keep the two in step by hand.
    slow = role(processing=50.0, stddev=15.0, deadline=900, concurrency=1, minimum=0, maximum=8)
    seen = History(slow, z=2.33, soonest_landing=35.0)
    assert seen.start_by == pytest.approx(start_by(slow))
    state = seen.state() | {"acked": acked, "busy_s": busy_s}
    restored = History(slow, z=2.33, soonest_landing=35.0)
    restored.restore(state)
    assert restored.job_time == pytest.approx(job_time)
    assert restored.start_by == pytest.approx(start_by(as_measured(slow, job_time)))
