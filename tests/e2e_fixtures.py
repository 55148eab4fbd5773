"""The whole of GuvScale running for real (tests/sandbox.py), for the end-to-end
and fault tests, and what they check afterwards in the database and the fake."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.scoping import unscoped
from guvscale.db.worker_models import ScalingEvent, TenantWorkerState
from tests.fake_heroku.fixtures import FakeHeroku
from tests.sandbox import Sandbox, Tenant


@pytest.fixture
def sandbox(
    database_url: str,
    engine: object,
    sessions: sessionmaker[Session],
    fake_heroku: FakeHeroku,
    tmp_path: Path,
) -> Iterator[Sandbox]:
    """Web and worker subprocesses on the test database (`engine` migrated it);
    `sessions` empties the tables after they have stopped."""
    box = Sandbox(database_url, fake_heroku.state, fake_heroku.url, tmp_path / "sandbox")
    try:
        yield box
    finally:
        box.stop()


@dataclass(frozen=True)
class Patch:
    """One formation PATCH Heroku received, and what it answered."""

    status: int | None
    request_id: str | None
    updates: dict[str, int]


def patches(box: Sandbox, tenant: Tenant) -> list[Patch]:
    found = []
    for r in box.patches(tenant):
        body = r.json or {}
        items = body.get("updates") or [{**body, "type": r.path.rsplit("/", 1)[-1]}]
        found.append(
            Patch(r.status, r.request_id, {u["type"]: u["quantity"] for u in items if "type" in u})
        )
    return found


def scaling_events(sessions: sessionmaker[Session], tenant: Tenant) -> list[ScalingEvent]:
    with sessions() as s:
        unscoped(s)
        return list(
            s.scalars(
                select(ScalingEvent)
                .where(ScalingEvent.resource_id == tenant.resource_id)
                .order_by(ScalingEvent.id)
            )
        )


def worker_state(sessions: sessionmaker[Session], tenant: Tenant) -> TenantWorkerState | None:
    with sessions() as s:
        unscoped(s)
        return s.scalars(
            select(TenantWorkerState).where(TenantWorkerState.resource_id == tenant.resource_id)
        ).one_or_none()


def role_status(sessions: sessionmaker[Session], tenant: Tenant, role: str) -> dict[str, Any]:
    state = worker_state(sessions, tenant)
    roles = (state.status or {}).get("roles", []) if state is not None else []
    return next((r for r in roles if r.get("role") == role), {})


def ticks(sessions: sessionmaker[Session], tenant: Tenant) -> Any:
    state = worker_state(sessions, tenant)
    return state.last_tick_at if state is not None else None


def check_ledger(
    box: Sandbox,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    *,
    answers_lost: set[str | None] = frozenset(),  # type: ignore[assignment]
) -> None:
    """No lost event, no duplicate change: every PATCH Heroku applied has an
    `applied` event carrying its request id (except those whose answer the test
    made sure never arrived: their event says the outcome is unknown), no event
    claims a PATCH Heroku did not apply, none is left pending, and no PATCH repeats
    the quantity the one before it set."""
    sent = patches(box, tenant)
    applied = [p for p in sent if p.status == 200]
    events = scaling_events(sessions, tenant)
    by_request = {e.request_id for e in events if e.outcome == "applied"}
    for p in applied:
        if p.request_id in answers_lost:
            continue
        assert p.request_id in by_request, f"PATCH {p} has no applied event: {events}"
    unknown = [e for e in events if e.outcome.startswith("unknown")]
    assert len(unknown) >= len(answers_lost), f"a lost answer left no event: {events}"
    applied_ids = {p.request_id for p in applied}
    for e in events:
        if e.outcome == "applied":
            assert e.request_id in applied_ids, f"event {e.id} applied with no PATCH"
        assert e.outcome != "pending", f"event {e.id} never closed"
    last: dict[str, int] = {}
    for p in applied:
        for kind, quantity in p.updates.items():
            assert last.get(kind) != quantity, f"{kind} set to {quantity} twice in a row: {sent}"
            last[kind] = quantity
