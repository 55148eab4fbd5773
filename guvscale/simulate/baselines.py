"""The peers' rules (scaling.md section 3) as policies the simulator drives.

All three count `messages` = ready + unacked, what RabbitMQ's management API
shows (KEDA's HTTP mode; HireFire and dynomatic count the queue's jobs), and
clamp to the role's bounds in force (`role.bounds_at(now)`).

Fair parameters from the same role settings. Each peer maps a backlog to a
dyno count through one number: how many queued jobs one dyno may be left with.
We give every peer the same, the backlog one dyno clears within the
deadline's slack:

    per_dyno = concurrency x (target - processing) / processing

where target = deadline - z·stddev (the role's derived target, as guv). In a
steady state ceil(messages / per_dyno) dynos leave the queue about
target - processing seconds deep, so a job waits that long and then runs:
the cheapest setting that still meets the deadline when capacity is already
there. A smaller value keeps the queue emptier at more cost; a larger one
misses. What none of them knows about is boot time, which is what costs them
bursts. Floored at 1 job.

We are generous to the peers where their real behaviour would only make
them worse: KEDA's HPA also limits scale-up to doubling (or +4 pods) per
15 s, which we leave out; HireFire reads the queue on our poll, not on its
own minute's phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from guvscale.rules.types import Role, Step
from guvscale.scaling.types import Decision, Observation, Policy
from guvscale.simulate.traces import derived_target


def per_dyno(role: Role) -> float:
    """Queued jobs one dyno clears within the deadline's slack (see module doc)."""
    target = role.target
    if target <= 0:
        target = derived_target(role.deadline, role.percentile, role.stddev, role.processing)
    return max(1.0, role.concurrency * (target - role.processing) / role.processing)


def _bounds(role: Role, obs: Observation) -> tuple[int, int]:
    return role.bounds_at(obs.now) if obs.now is not None else (role.minimum, role.maximum)


def _clamp(x: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, x))


def _hold(obs: Observation, role: Role, why: str) -> Decision:
    lo, hi = _bounds(role, obs)
    current = obs.current if obs.current is not None else lo
    return Decision(_clamp(current, lo, hi), why)


@dataclass
class Keda:
    """KEDA RabbitMQ scaler, mode QueueLength, with the HPA's rules.

    desired = ceil(messages / value). The HPA leaves the count alone when
    messages / (value x current) is within ±`tolerance` of 1; it scales up at
    once and down to the highest recommendation of the last `window` s. KEDA
    keeps at least one replica (or the minimum) while active, and drops to the
    minimum only `cooldown` s after the last poll that saw a message. With no
    reading it holds, as the HPA does on a metrics error.
    """

    role: Role
    value: float = 0.0  # 0: per_dyno(role)
    interval: float = 30.0
    tolerance: float = 0.1
    window: float = 300.0
    cooldown: float = 300.0
    _recs: list[tuple[float, int]] = field(default_factory=list, init=False)
    _last_active: float | None = field(default=None, init=False)
    _last_poll: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.value <= 0:
            self.value = per_dyno(self.role)

    def decide(self, obs: Observation) -> Decision:
        n = obs.messages
        if n is None:
            return _hold(obs, self.role, "KEDA: no queue reading, holding")
        if self._last_poll is not None and obs.t - self._last_poll < self.interval - 1e-9:
            return _hold(obs, self.role, "KEDA: between polls")
        self._last_poll = obs.t
        lo, hi = _bounds(self.role, obs)
        current = obs.current if obs.current is not None else lo
        if n > 0:
            self._last_active = obs.t
        if self._last_active is None or obs.t - self._last_active >= self.cooldown:
            self._recs.clear()
            return Decision(lo, f"KEDA: no messages for {self.cooldown:g} s, to the minimum")
        floor = max(1, lo)
        if current > 0 and abs(n / (self.value * current) - 1) <= self.tolerance:
            rec = current
        else:
            rec = math.ceil(n / self.value)
        rec = _clamp(rec, floor, hi)
        self._recs = [(t, r) for t, r in self._recs if t > obs.t - self.window]
        self._recs.append((obs.t, rec))
        desired = current
        if desired < rec:
            desired = rec
        down = max(r for _, r in self._recs)
        if desired > down:
            desired = down
        desired = _clamp(desired, floor, hi)
        return Decision(desired, f"KEDA: {n} messages / {self.value:.0f} per replica")

    def state(self) -> dict[str, Any]:
        return {
            "recs": [list(r) for r in self._recs],
            "last_active": self._last_active,
            "last_poll": self._last_poll,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._recs = [(float(t), int(r)) for t, r in state.get("recs", [])]
        self._last_active = state.get("last_active")
        self._last_poll = state.get("last_poll")


@dataclass
class HireFire:
    """HireFire, Worker.Job Queue: desired = ceil(jobs / ratio) each minute.

    Up at once. Down only after `quiet_checks` consecutive checks each wanting
    fewer dynos than run now, then to the highest of those checks' counts.
    With no reading it holds.
    """

    role: Role
    ratio: int = 0  # 0: floor(per_dyno(role))
    interval: float = 60.0
    quiet_checks: int = 3
    _last_check: float | None = field(default=None, init=False)
    _quiet: list[int] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.ratio <= 0:
            self.ratio = max(1, math.floor(per_dyno(self.role)))

    def decide(self, obs: Observation) -> Decision:
        n = obs.messages
        if n is None:
            return _hold(obs, self.role, "HireFire: no queue reading, holding")
        if self._last_check is not None and obs.t - self._last_check < self.interval - 1e-9:
            return _hold(obs, self.role, "HireFire: between checks")
        self._last_check = obs.t
        lo, hi = _bounds(self.role, obs)
        current = obs.current if obs.current is not None else lo
        want = _clamp(math.ceil(n / self.ratio), lo, hi)
        if want >= current:
            self._quiet.clear()
            return Decision(want, f"HireFire: {n} jobs / ratio {self.ratio}")
        self._quiet.append(want)
        if len(self._quiet) < self.quiet_checks:
            return Decision(current, f"HireFire: quiet check {len(self._quiet)}")
        desired = max(self._quiet)
        self._quiet.clear()
        return Decision(desired, f"HireFire: {self.quiet_checks} quiet checks, down")

    def state(self) -> dict[str, Any]:
        return {"last_check": self._last_check, "quiet": list(self._quiet)}

    def restore(self, state: dict[str, Any]) -> None:
        self._last_check = state.get("last_check")
        self._quiet = [int(x) for x in state.get("quiet", [])]


def derived_steps(role: Role) -> tuple[Step, ...]:
    """One step per dyno count: k dynos once jobs exceed (k - 1) x per_dyno.

    The finest table a user could write, so dynomatic gets the same mapping
    as the others, ceil(jobs / per_dyno), without their smoothing.
    """
    v = per_dyno(role)
    steps = [Step(0, role.minimum)]
    steps += [Step(math.floor((k - 1) * v) + 1, k) for k in range(1, role.maximum + 1)]
    return tuple(steps)


@dataclass
class Dynomatic:
    """dynomatic: the highest step whose `at_least` ≤ jobs, up and down at once.

    Uses the role's `steps` when it has some, else `derived_steps(role)`.
    Below the lowest step: the minimum. With no reading it holds.
    """

    role: Role
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if not self.steps:
            self.steps = self.role.steps or derived_steps(self.role)
        self.steps = tuple(sorted(self.steps, key=lambda s: s.at_least))

    def decide(self, obs: Observation) -> Decision:
        n = obs.messages
        if n is None:
            return _hold(obs, self.role, "dynomatic: no queue reading, holding")
        lo, hi = _bounds(self.role, obs)
        dynos = lo
        for s in self.steps:
            if s.at_least <= n:
                dynos = s.dynos
            else:
                break
        return Decision(_clamp(dynos, lo, hi), f"dynomatic: {n} jobs, step {dynos}")

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None


@dataclass
class Fixed:
    """Always `dynos`: with them all booted at t = 0, the best any policy within
    the role's maximum can do, so a trace it misses is beyond the bounds."""

    dynos: int

    def decide(self, obs: Observation) -> Decision:
        return Decision(self.dynos, f"fixed at {self.dynos}")

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None


@dataclass
class Fastest:
    """The fastest reactive policy: the maximum whenever work waits or runs,
    else the minimum. What reacting can do at a poll interval, at any cost."""

    role: Role

    def decide(self, obs: Observation) -> Decision:
        n = obs.messages
        if n is None:
            return _hold(obs, self.role, "fastest: no queue reading, holding")
        lo, hi = _bounds(self.role, obs)
        return Decision(hi if n > 0 else lo, f"fastest: {n} jobs")

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None


@dataclass
class _Raised:
    """A diagnostic wrapper: `policy` decides, the wrapper may only raise its
    answer, and the state is `policy`'s."""

    role: Role
    policy: Policy

    def state(self) -> dict[str, Any]:
        return self.policy.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.policy.restore(state)


@dataclass
class AtFirstSight(_Raised):
    """A diagnostic, not a peer: `policy`'s answer, but the maximum whenever
    jobs wait (ready above zero). A scenario this misses is beyond reacting
    to the first sight of a queue: only dynos running before it save it
    (the fastest policy meets such runs by holding the maximum while any job
    runs, a stream's jobs included)."""

    def decide(self, obs: Observation) -> Decision:
        answer = self.policy.decide(obs)
        if not obs.ready:
            return answer
        _, hi = _bounds(self.role, obs)
        return Decision(max(answer.desired, hi), f"at first sight: {obs.ready} jobs wait")


@dataclass
class Standby(_Raised):
    """A diagnostic, not a peer: `policy`'s answer, but at least `share` of
    the way from the minimum to the maximum while any job waits or runs.
    It prices the issue's target: the misses beyond reaction are met only by
    dynos already running when a queue first shows, and this is what holding
    them costs (`share` 1 is the fastest's fleet, with `policy`'s on top).

    `slow_only` holds them only for roles too slow to react (boot plus a
    poll no sooner than the start-by, `common.reaction_warning`), the roles
    where the misses beyond reaction are."""

    share: float
    slow_only: bool = False
    holds: bool = field(init=False)  # the role's, fixed: worked out once, not each poll

    def __post_init__(self) -> None:
        from guvscale.scaling.common import reaction_warning  # the model, when asked for

        self.holds = not self.slow_only or reaction_warning(self.role) is not None

    def decide(self, obs: Observation) -> Decision:
        answer = self.policy.decide(obs)
        if not obs.messages or not self.holds:
            return answer
        lo, hi = _bounds(self.role, obs)
        held = lo + math.ceil(self.share * (hi - lo) - 1e-9)
        if held <= answer.desired:
            return answer
        return Decision(held, f"standby: {held} while {obs.messages} jobs wait or run")
