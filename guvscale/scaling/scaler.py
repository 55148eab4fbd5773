"""`Scaler(role)`: the one policy the worker and the simulator drive.

It picks the role's model (guv's, a step table, or ours) and wraps its state
with the model's name, so a state saved under one model is never fed to another.
"""

from __future__ import annotations

from typing import Any

from guvscale.rules.types import Role
from guvscale.scaling.guv import GuvModel
from guvscale.scaling.model import DeadlineModel
from guvscale.scaling.steps import StepModel
from guvscale.scaling.types import Decision, Observation, Policy


def model_for(role: Role) -> tuple[str, Policy]:
    if role.model == "guv":
        return "guv", GuvModel(role)
    if role.steps:
        return "steps", StepModel(role)
    return "guvscale", DeadlineModel(role)


class Scaler:
    def __init__(self, role: Role) -> None:
        self.role = role
        self.kind, self.model = model_for(role)

    def decide(self, obs: Observation) -> Decision:
        return self.model.decide(obs)

    def state(self) -> dict[str, Any]:
        return {"model": self.kind, **self.model.state()}

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from `state()`; a state from another model (the rules changed) is dropped."""
        if state.get("model", self.kind) != self.kind:
            self.kind, self.model = model_for(self.role)
            return
        self.model.restore({k: v for k, v in state.items() if k != "model"})
