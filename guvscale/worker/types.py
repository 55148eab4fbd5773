"""Values passed between the worker's phases: claim -> load -> tick -> save."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from guvscale.plans import Plan
from guvscale.rules.types import Role
from guvscale.services.credentials import TenantCredentials


@dataclass(frozen=True)
class Claim:
    resource_id: str
    epoch: int  # the lease's fencing number
    due_at: dt.datetime
    memory: dict[str, Any]
    took_over: bool  # the lease was still held by another worker when it ran out
    reset: tuple[str, ...] = ()  # parts of the stored memory dropped as misshapen


@dataclass
class TenantJob:
    """Everything one tenant's tick needs, read from the database beforehand."""

    claim: Claim
    plan: Plan
    roles: list[Role] = field(default_factory=list)
    beyond_plan: list[str] = field(default_factory=list)  # roles over the plan's type count
    app: str | None = None  # the add-on's own app (id, else name)
    credentials: TenantCredentials | None = None  # decrypted, as the credentials service reads
    dry_run: bool = False
    series: dict[str, int] = field(default_factory=dict)  # role -> role_series.id
    error: str | None = None  # the tenant could not be loaded at all

    @property
    def resource_id(self) -> str:
        return self.claim.resource_id

    @property
    def token(self) -> str | None:
        return self.credentials.heroku_token if self.credentials else None

    @property
    def broker_url(self) -> str | None:
        return self.credentials.broker_url if self.credentials else None

    @property
    def management_url(self) -> str | None:
        return self.credentials.management_url if self.credentials else None


@dataclass
class Counters:
    """What /metrics shows, summed per tick and added to the worker's heartbeat row."""

    decisions: int = 0
    heroku_calls: int = 0
    takeovers: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    lowest_remaining: int | None = None

    def saw_remaining(self, remaining: int | None) -> None:
        if remaining is not None and (
            self.lowest_remaining is None or remaining < self.lowest_remaining
        ):
            self.lowest_remaining = remaining

    def add(self, other: Counters) -> None:
        self.decisions += other.decisions
        self.heroku_calls += other.heroku_calls
        self.takeovers += other.takeovers
        self.errors.update(other.errors)
        self.saw_remaining(other.lowest_remaining)


@dataclass(frozen=True)
class EventRow:
    at: dt.datetime
    role: str
    app: str
    process_type: str
    from_quantity: int | None
    to_quantity: int
    reason: str
    outcome: str
    request_id: str | None = None


@dataclass
class TenantResult:
    resource_id: str
    epoch: int
    next_due: dt.datetime
    memory: dict[str, Any]
    status: dict[str, Any]
    samples: list[dict[str, Any]] = field(default_factory=list)
    new_events: list[EventRow] = field(default_factory=list)  # inserted at save (dry-run...)
    # Events written `pending` before a PATCH: id -> (outcome, request id).
    finished_events: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    counters: Counters = field(default_factory=Counters)
