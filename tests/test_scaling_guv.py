"""guv's reference cases (scaling.md section 2), run through Scaler with `model: guv`."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from guvscale.rules.types import Role, ScheduleWindow
from guvscale.scaling import Observation, Scaler


def guv_role(**settings: Any) -> Role:
    # As the rules parser resolves it: stddev defaults to half the processing time.
    settings.setdefault("stddev", 0.5 * settings.get("processing", 10.0))
    return Role(name="r", worker="r", queue="r", model="guv", **settings)


def decide(role: Role, messages: int, current: int | None, history: list[int]) -> int:
    scaler = Scaler(role)
    scaler.restore({"model": "guv", "estimates": history})
    return scaler.decide(Observation(t=0.0, ready=messages, unacked=0, current=current)).desired


D240 = {"minimum": 0, "maximum": 4, "deadline": 240}
NONE = None  # guv answers "no change": the formation stays at `current`

REFERENCE = [
    ({"minimum": 3}, None, [], 0, 3),
    ({"maximum": 40}, None, [], 10000, 40),
    ({"minimum": 0, "deadline": 240}, None, [], 1000, 5),
    (D240, 4, [4, 4, 0], 10, NONE),
    (D240, 4, [0, 0, 0], 10, 1),
    (D240, 4, [4, 1, 4, 2], 10, NONE),
    (D240, 3, [1, 2, 1], 40, 2),
    (D240, 12, [10, 9, 8], 0, 10),
    ({"processing": 60, "deadline": 61, "stddev": 30, "maximum": 4}, 0, [1, 2, 1], 40, 4),
    ({"processing": 25, "stddev": 12, "deadline": 50, "maximum": 4}, 0, [1, 2, 1], 40, 4),
    ({"maximum": 40}, None, [], 40, 11),
    ({"maximum": 40, "concurrency": 3}, None, [], 40, 4),
    ({"maximum": 40, "deadline": 90}, None, [], 5, 1),
    ({"maximum": 40, "deadline": 90, "concurrency": 3}, None, [], 5, 1),
]


@pytest.mark.parametrize(("settings", "current", "history", "messages", "expected"), REFERENCE)
def test_guv_reference_cases(
    settings: dict[str, Any],
    current: int | None,
    history: list[int],
    messages: int,
    expected: int | None,
) -> None:
    desired = decide(guv_role(**settings), messages, current, history)
    assert desired == (current if expected is NONE else expected)


@pytest.mark.parametrize(
    ("messages", "expected"),
    list(zip([0, 1, 2, 3, 5, 8, 10, 20, 49], [0, 1, 1, 2, 2, 3, 4, 8, 18], strict=True)),
)
def test_guv_short_jobs(messages: int, expected: int) -> None:
    role = guv_role(processing=2, deadline=10, minimum=0, maximum=20)
    assert decide(role, messages, None, []) == expected


@pytest.mark.parametrize(("messages", "expected"), [(3, 1), (10, 2), (100, 14)])
def test_guv_concurrency_two(messages: int, expected: int) -> None:
    role = guv_role(processing=5, deadline=30, concurrency=2, maximum=50)
    assert decide(role, messages, None, []) == expected


def test_guv_no_change_says_holding() -> None:
    scaler = Scaler(guv_role(**D240))
    scaler.restore({"model": "guv", "estimates": [4, 4, 0]})
    decision = scaler.decide(Observation(t=0.0, ready=10, unacked=0, current=4))
    assert decision.desired == 4
    assert decision.reason.startswith("holding 4")


def test_guv_history_window_drives_scale_down_over_polls() -> None:
    # history 120 s / pollinterval 30 s = 4 previous estimates; the 5th poll of
    # an empty queue after a busy one may finally scale down.
    scaler = Scaler(guv_role(**D240))
    scaler.restore({"model": "guv", "estimates": [4]})
    answers = [
        scaler.decide(Observation(t=30.0 * i, ready=0, unacked=0, current=4)).desired
        for i in range(5)
    ]
    assert answers == [4, 4, 4, 4, 0]


def test_guv_holds_when_queue_unreadable() -> None:
    scaler = Scaler(guv_role(**D240))
    decision = scaler.decide(Observation(t=0.0, ready=None, unacked=None, current=3))
    assert decision.desired == 3
    assert "unavailable" in decision.reason


def test_guv_schedule_maximum_binds_when_clock_known() -> None:
    night = ScheduleWindow(
        days=frozenset(range(1, 8)), start=dt.time(0, 0), end=dt.time(6, 0), maximum=2
    )
    role = guv_role(minimum=0, maximum=10, deadline=240, schedule=(night,))
    scaler = Scaler(role)
    scaler.restore({"model": "guv", "estimates": [10, 10, 10]})
    at_night = dt.datetime(2024, 5, 6, 3, 0, tzinfo=dt.UTC)
    decision = scaler.decide(Observation(t=0.0, ready=0, unacked=0, current=10, now=at_night))
    assert decision.desired == 2
