"""Properties every model keeps, on random roles and random polls (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from guvscale.rules.types import Role, ScheduleWindow, Step
from guvscale.scaling import Observation, Scaler

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NIGHTS = ScheduleWindow(
    days=frozenset(range(1, 8)), start=dt.time(0, 0), end=dt.time(0, 3), minimum=0, maximum=2
)


@st.composite
def roles(draw: st.DrawFn, models: tuple[str, ...] = ("guvscale", "guv", "steps")) -> Role:
    processing = draw(st.floats(0.05, 120.0))
    minimum = draw(st.integers(0, 5))
    maximum = draw(st.integers(max(minimum, 1), minimum + 40))
    model = draw(st.sampled_from(models))
    steps: tuple[Step, ...] = ()
    if model == "steps":
        at = sorted(draw(st.lists(st.integers(0, 5000), min_size=1, max_size=5, unique=True)))
        counts = sorted(draw(st.lists(st.integers(0, 60), min_size=len(at), max_size=len(at))))
        steps = tuple(Step(a, c) for a, c in zip(at, counts, strict=True))
    return Role(
        name="r",
        worker="r",
        queue="r",
        processing=processing,
        stddev=processing * draw(st.floats(0.0, 1.2)),
        deadline=processing * draw(st.floats(1.1, 60.0)),
        percentile=draw(st.sampled_from([90.0, 95.0, 99.0, 99.9])),
        concurrency=draw(st.integers(1, 20)),
        minimum=minimum,
        maximum=maximum,
        boot=draw(st.floats(0.0, 120.0)),
        pollinterval=draw(st.sampled_from([10.0, 30.0, 60.0])),
        model="guv" if model == "guv" else "guvscale",
        steps=steps,
        schedule=(NIGHTS,) if draw(st.booleans()) else (),
    )


counts = st.integers(0, 5000)


@st.composite
def polls(draw: st.DrawFn, n: int, start: float = 0.0, interval: float = 30.0) -> list[Observation]:
    """n polls `interval` apart; any field may be missing, as from a flaky broker."""
    out = []
    for i in range(n):
        t = start + i * interval
        current = draw(st.none() | st.integers(0, 60))
        out.append(
            Observation(
                t=t,
                ready=draw(st.none() | counts) if draw(st.integers(0, 9)) == 0 else draw(counts),
                unacked=draw(st.none() | counts) if draw(st.integers(0, 9)) == 0 else draw(counts),
                consumers=draw(st.none() | st.integers(0, 60)),
                publish_rate=draw(st.none() | st.floats(0.0, 500.0)),
                ack_rate=draw(st.none() | st.floats(0.0, 500.0)),
                current=current,
                # Ten seconds a poll, so some polls fall in the 3-minute night window.
                now=EPOCH + dt.timedelta(seconds=10 * i) if draw(st.booleans()) else None,
            )
        )
    return out


def bounds_at(role: Role, o: Observation) -> tuple[int, int]:
    lo, hi = role.bounds_at(o.now) if o.now is not None else (role.minimum, role.maximum)
    return lo, hi


def scaler_after(role: Role, history: list[Observation]) -> Scaler:
    scaler = Scaler(role)
    for o in history:
        scaler.decide(o)
    return scaler


def copy_of(scaler: Scaler) -> Scaler:
    twin = Scaler(scaler.role)
    twin.restore(json.loads(json.dumps(scaler.state())))
    return twin


@settings(max_examples=150, deadline=None)
@given(role=roles(), data=st.data())
def test_desired_stays_within_the_bounds_in_force(role: Role, data: st.DataObject) -> None:
    history = data.draw(polls(12, interval=role.pollinterval))
    if role.model == "guv":
        # guv bounds its estimate but not its hysteresis; with the clock known
        # (as the worker always passes it) the bounds in force are hard.
        history = [o if o.now else Observation(**{**o.__dict__, "now": EPOCH}) for o in history]
    scaler = Scaler(role)
    for o in history:
        lo, hi = bounds_at(role, o)
        assert lo <= scaler.decide(o).desired <= hi


def counted(data: st.DataObject, o: Observation, **fields: Any) -> Observation:
    """`o` with its counts known and its publishes counted, as the worker has
    them from its second read on. (With publishes only estimated from the
    counts, more jobs now means more arrived, so those waiting are younger and
    may rightly need fewer dynos.)"""
    known = {
        "ready": data.draw(counts) if o.ready is None else o.ready,
        "unacked": data.draw(counts) if o.unacked is None else o.unacked,
        "publish_rate": data.draw(st.floats(0.0, 500.0))
        if o.publish_rate is None
        else o.publish_rate,
    }
    return Observation(**{**o.__dict__, **known, **fields})


def bigger_decides_no_fewer(
    role: Role, history: list[Observation], base: Observation, **more: int
) -> None:
    bigger = Observation(**{**base.__dict__, **{k: getattr(base, k) + n for k, n in more.items()}})
    scaler = scaler_after(role, history)
    twin = copy_of(scaler)
    assert twin.decide(bigger).desired >= scaler.decide(base).desired


@settings(max_examples=150, deadline=None)
@given(role=roles(), data=st.data(), more=st.integers(1, 5000))
def test_more_waiting_jobs_never_give_fewer_dynos(
    role: Role, data: st.DataObject, more: int
) -> None:
    history = data.draw(polls(6, interval=role.pollinterval))
    base = counted(data, data.draw(polls(1, start=6 * role.pollinterval))[0])
    bigger_decides_no_fewer(role, history, base, ready=more)


@settings(max_examples=150, deadline=None)
@given(role=roles(), data=st.data(), more=st.integers(1, 5000))
def test_more_jobs_in_flight_with_every_slot_busy_never_give_fewer_dynos(
    role: Role, data: st.DataObject, more: int
) -> None:
    """Jobs in flight beyond the busy slots wait in a consumer's prefetch: they
    are backlog like the ready ones. (With a slot free, one more job in flight
    may fill it, and then keeping that dyno starts no waiting job any sooner:
    fewer dynos is the right answer there.)"""
    history = data.draw(polls(6, interval=role.pollinterval))
    o = data.draw(polls(1, start=6 * role.pollinterval))[0]
    current = data.draw(st.integers(0, 60)) if o.current is None else o.current
    consuming = current if o.consumers is None else min(o.consumers, current)
    busy = consuming * role.concurrency + data.draw(st.integers(0, 500))
    base = counted(data, o, current=current, unacked=busy)
    bigger_decides_no_fewer(role, history, base, unacked=more)


@settings(max_examples=150, deadline=None)
@given(role=roles(), data=st.data(), gone=st.sampled_from(["ready", "unacked", "both"]))
def test_missing_queue_statistics_never_scale_down(
    role: Role, data: st.DataObject, gone: str
) -> None:
    history = data.draw(polls(6, interval=role.pollinterval))
    o = data.draw(polls(1, start=6 * role.pollinterval))[0]
    current = data.draw(st.integers(0, 60))
    missing: dict[str, Any] = {**o.__dict__, "current": current}
    if gone in ("ready", "both"):
        missing["ready"] = None
    if gone in ("unacked", "both"):
        missing["unacked"] = None
    decision = scaler_after(role, history).decide(Observation(**missing))
    _, hi = bounds_at(role, o)
    assert decision.desired >= min(current, hi)
    assert "unavailable" in decision.reason


@settings(max_examples=150, deadline=None)
@given(role=roles(), data=st.data(), cut=st.integers(0, 10))
def test_saved_and_restored_state_decides_the_same(
    role: Role, data: st.DataObject, cut: int
) -> None:
    history = data.draw(polls(10, interval=role.pollinterval))
    ahead = data.draw(polls(4, start=10 * role.pollinterval, interval=role.pollinterval))
    scaler = scaler_after(role, history[:cut])
    twin = copy_of(scaler)
    for o in history[cut:] + ahead:
        assert twin.decide(o) == scaler.decide(o)
