"""What a scaling policy sees and what it answers. Pure values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Observation:
    """One poll of a role's queue and formation.

    t: seconds on the caller's clock (monotonic within one scaler's life).
    now: wall-clock time, for schedule windows; None means no schedule applies.
    Rates are messages/s over the last interval; None when unknown. Counts are
    None when the broker could not be read: the policy must hold, not shrink.
    """

    t: float
    ready: int | None
    unacked: int | None
    consumers: int | None = None
    publish_rate: float | None = None
    ack_rate: float | None = None
    current: int | None = None  # formation quantity; None when unknown
    now: dt.datetime | None = None

    @property
    def messages(self) -> int | None:
        if self.ready is None or self.unacked is None:
            return None
        return self.ready + self.unacked


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str  # one line a user understands


class Policy(Protocol):
    """Anything the simulator and the worker can drive: ours, guv, the peers."""

    def decide(self, obs: Observation) -> Decision: ...

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state; `restore` of it must decide the same."""
        ...

    def restore(self, state: dict[str, Any]) -> None: ...
