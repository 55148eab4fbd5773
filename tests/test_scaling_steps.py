"""dynomatic-style step tables (`steps:` on a role)."""

from __future__ import annotations

import pytest

from guvscale.rules.types import Role, Step
from guvscale.scaling import Observation, Scaler

STEPS = (Step(0, 1), Step(10, 5), Step(100, 12))


def stepped(minimum: int = 0, maximum: int = 10) -> Role:
    return Role(name="r", worker="r", queue="r", steps=STEPS, minimum=minimum, maximum=maximum)


@pytest.mark.parametrize(
    ("messages", "expected"), [(0, 1), (9, 1), (10, 5), (99, 5), (100, 10), (5000, 10)]
)
def test_the_highest_step_reached_bounded(messages: int, expected: int) -> None:
    decision = Scaler(stepped()).decide(Observation(t=0, ready=messages, unacked=0, current=3))
    assert decision.desired == expected


def test_below_the_first_step_is_the_minimum() -> None:
    role = Role(name="r", worker="r", queue="r", steps=(Step(50, 4),), minimum=2, maximum=10)
    decision = Scaler(role).decide(Observation(t=0, ready=10, unacked=5, current=4))
    assert decision.desired == 2
    assert decision.reason == "scaling down 4 → 2: 15 jobs are below the first step"


def test_steps_say_which_step() -> None:
    decision = Scaler(stepped()).decide(Observation(t=0, ready=60, unacked=0, current=1))
    assert decision.reason == "scaling up 1 → 5: 60 jobs reach the step at 10: 5 dynos"


def test_steps_hold_without_queue_statistics() -> None:
    decision = Scaler(stepped()).decide(Observation(t=0, ready=None, unacked=None, current=4))
    assert (decision.desired, decision.reason) == (4, "holding 4: queue statistics unavailable")
