"""dynomatic-style step tables: the highest step whose `at_least` ≤ the backlog."""

from __future__ import annotations

from typing import Any

from guvscale.rules.types import Role
from guvscale.scaling.common import bounds, clamp, dynos, jobs
from guvscale.scaling.types import Decision, Observation


class StepModel:
    def __init__(self, role: Role) -> None:
        self.role = role
        self.steps = sorted(role.steps, key=lambda s: s.at_least)
        self.last: int | None = None  # what we last asked for, for holds

    def decide(self, obs: Observation) -> Decision:
        lo, hi = bounds(self.role, obs)
        messages, current = obs.messages, obs.current
        if messages is None:
            keep = current if current is not None else (self.last if self.last is not None else lo)
            return Decision(clamp(keep, lo, hi), f"holding {keep}: queue statistics unavailable")

        matching = [s for s in self.steps if s.at_least <= messages]
        if matching:
            step = matching[-1]
            wanted = step.dynos
            why = f"{jobs(messages)} reach the step at {step.at_least:,}: {dynos(wanted)}"
        else:
            wanted = lo
            why = f"{jobs(messages)} are below the first step"
        desired = clamp(wanted, lo, hi)
        if desired != wanted:
            why += f", bounded to {desired}"
        if current is not None and desired == current:
            reason = f"holding {current}: {why}"
        elif current is not None:
            verb = "scaling up" if desired > current else "scaling down"
            reason = f"{verb} {current} → {desired}: {why}"
        else:
            reason = f"setting {desired}: {why}"
        self.last = desired
        return Decision(desired, reason)

    def state(self) -> dict[str, Any]:
        return {"last": self.last}

    def restore(self, state: dict[str, Any]) -> None:
        last = state.get("last")
        self.last = int(last) if last is not None else None
