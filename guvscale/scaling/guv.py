"""guv's model, kept exactly as guv ran it (`model: guv`), so users can compare.

estimate = ceil(N / C) · P / max(P, T - P): the time C-wide batches of the
backlog take, spread over the time left after one job's run. Up at once; down
only to the highest estimate of the last history/pollinterval polls, and only
when that is below the current quantity. It ignores boot time and arrivals.
"""

from __future__ import annotations

import math
from typing import Any

from guvscale.rules.types import Role
from guvscale.scaling.common import bounds, clamp, dynos, finish_target, jobs
from guvscale.scaling.types import Decision, Observation


class GuvModel:
    def __init__(self, role: Role) -> None:
        self.role = role
        self.target, self.achievable = finish_target(role)
        # guv keeps floor(history / pollinterval) previous estimates.
        self.window = max(0, math.floor(role.history / role.pollinterval))
        self.estimates: list[int] = []  # bounded estimates, newest last

    def raw_estimate(self, messages: int) -> float:
        p, c = self.role.processing, self.role.concurrency
        return math.ceil(messages / c) * p / max(p, self.target - p)

    def decide(self, obs: Observation) -> Decision:
        lo, hi = bounds(self.role, obs)
        messages, current = obs.messages, obs.current
        if messages is None:
            # guv skipped a role whose queue it could not read: no change.
            keep = current if current is not None else (self.estimates or [lo])[-1]
            return Decision(
                self._hard_bounds(keep, obs, lo, hi),
                f"holding {keep}: queue statistics unavailable",
            )

        raw = self.raw_estimate(messages)
        estimate = clamp(math.ceil(raw), lo, hi)
        history = self.estimates[-self.window :] if self.window else []
        self.estimates = [*self.estimates, estimate][-self.window :] if self.window else []

        why = f"{jobs(messages)} need {raw:.1f} dynos to finish by {self.target:.0f} s"
        if not self.achievable:
            why += " (the deadline cannot be met: target ≤ processing)"
        if current is None:
            # guv: "don't know which way we're going, reset to estimate".
            desired, reason = estimate, f"setting {estimate}: {why}"
        elif estimate > current:
            desired, reason = estimate, f"scaling up {current} → {estimate}: {why}"
        elif estimate < current:
            # Down only as far as the busiest recent poll allows (hysteresis).
            floor = max(history) if history else estimate
            if estimate >= floor:
                desired, reason = estimate, f"scaling down {current} → {estimate}: {why}"
            elif floor < current:
                desired = floor
                recent = f"the last {len(history)} polls needed up to {dynos(floor)}"
                reason = f"scaling down {current} → {floor}: {recent}"
            else:
                desired = current
                reason = (
                    f"holding {current}: the last {len(history)} polls needed up to {dynos(floor)}"
                )
        else:
            desired, reason = current, f"holding {current}: {why}"
        return Decision(self._hard_bounds(desired, obs, lo, hi), reason)

    @staticmethod
    def _hard_bounds(desired: int, obs: Observation, lo: int, hi: int) -> int:
        """guv bounds the estimate but not its hysteresis (a reference case keeps
        10 under a maximum of 4). A schedule window is ours, not guv's, and the
        user means it as a hard limit, so it binds whenever the clock is known."""
        return clamp(desired, lo, hi) if obs.now is not None else desired

    def state(self) -> dict[str, Any]:
        return {"estimates": list(self.estimates)}

    def restore(self, state: dict[str, Any]) -> None:
        self.estimates = [int(e) for e in state.get("estimates", [])]
