"""Properties every model keeps, on random roles and random polls (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import assume, given, settings
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


@settings(max_examples=150, deadline=None)
@given(role=roles(), data=st.data(), more=st.integers(1, 5000), which=st.sampled_from(["r", "u"]))
def test_more_backlog_never_gives_fewer_dynos(
    role: Role, data: st.DataObject, more: int, which: str
) -> None:
    history = data.draw(polls(6, interval=role.pollinterval))
    base = data.draw(polls(1, start=6 * role.pollinterval))[0]
    assume(base.ready is not None and base.unacked is not None)
    bigger: dict[str, Any] = dict(base.__dict__)
    bigger["ready" if which == "r" else "unacked"] += more
    scaler = scaler_after(role, history)
    twin = copy_of(scaler)
    assert twin.decide(Observation(**bigger)).desired >= scaler.decide(base).desired


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
