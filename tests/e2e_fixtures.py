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
from tests.waiting import wait_until


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


def check_ledger(box: Sandbox, sessions: sessionmaker[Session], tenant: Tenant) -> None:
    """No lost event, no duplicate change.

    Every change Heroku made to the formation is, in order, one scaling event:
    `applied` (with the request id of a PATCH Heroku answered 200), or `unknown`
    when the test made the answer go missing. An `unknown` event may also stand
    for a PATCH that never took effect, and failed attempts (`error: ...`) are
    no change at all. Nothing is left `pending`.
    """
    # The round that sent the last PATCH writes its outcome when it ends.
    wait_until(
        lambda: all(e.outcome != "pending" for e in scaling_events(sessions, tenant)), timeout=30
    )
    events = scaling_events(sessions, tenant)
    shown = [(e.process_type, e.from_quantity, e.to_quantity, e.outcome) for e in events]
    changes = [(k, a, b) for app, k, a, b, _ in box.transitions if app == tenant.app]
    answered = {p.request_id for p in patches(box, tenant) if p.status == 200}
    pending = list(changes)
    for e in events:
        assert e.outcome != "pending", f"event left pending: {shown}"
        change = (e.process_type, e.from_quantity, e.to_quantity)
        if e.outcome == "applied":
            assert e.request_id in answered, f"applied with no PATCH answered 200: {shown}"
            assert pending and pending[0] == change, (
                f"Heroku's changes {changes} are not the applied events {shown}"
            )
            pending.pop(0)
        elif e.outcome.startswith("unknown") and pending and pending[0] == change:
            pending.pop(0)
    assert not pending, f"changes with no event (or made twice): {pending}; events {shown}"
