"""One tenant's unreadable or unsaveable rows never stop another tenant's scaling.

Each test runs a healthy tenant beside one with a bad row (stored memory of
the wrong shape, a role the database cannot record, a status or count it
refuses) and checks the healthy one is enrolled, ticked and saved every
round. Queue counts come from a stand-in for the AMQP fallback (the
management URL answers nobody), so no broker is needed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select, text

from guvscale import rules
from guvscale.clock import utcnow
from guvscale.db.models import RulesVersion
from guvscale.db.scoping import unscoped
from guvscale.plans import PLANS
from guvscale.rules.types import Role
from guvscale.worker import queues
from guvscale.worker.amqp_threads import AmqpThreads
from guvscale.worker.run import Report, _cut_short, run_once
from guvscale.worker.tenant import Progress
from guvscale.worker.types import Claim, TenantJob
from tests import factories

NOBODY = "http://guest:guest@127.0.0.1:9"  # management API unreachable: AMQP fallback
READY = 40  # what every queue holds unless a test says otherwise


def rounds(
    world: factories.WorkerWorld,
    count: int,
    *,
    counts: dict[str, int] | None = None,
    roles: dict[str, list[Role]] | None = None,
    between: Callable[[int], None] | None = None,
) -> list[Report]:
    """`count` rounds of one worker, 30 s apart. `counts`: ready per queue;
    `roles`: a tenant's roles as the worker holds them once parsed (rules an
    older release stored, which today's parser may refuse); `between(i)` runs
    before round i."""

    def declare(url: str, queue: str, timeout: float, private: bool) -> tuple[int, int]:
        return (counts or {}).get(queue, READY), 0

    async def go() -> list[Report]:
        async with world.make_worker() as w:
            w.ctx.amqp = AmqpThreads(declare, pool)
            for rid, made in (roles or {}).items():
                w.rules_cache[_rules_version(world, rid)] = made
            start = utcnow()
            reports = []
            for i in range(count):
                if between:
                    between(i)
                reports.append(await run_once(w, start + dt.timedelta(seconds=30 * i)))
            return reports

    with ThreadPoolExecutor(2) as pool:
        return asyncio.run(go())


def store_memory(world: factories.WorkerWorld, rid: str, value: str, **params: Any) -> None:
    """Overwrite a tenant's stored worker memory with the SQL expression `value`,
    as a row written by hand or by another release would be."""
    with world.sessions.begin() as s:
        s.execute(
            text(f"UPDATE tenant_worker_state SET memory = {value} WHERE resource_id = :rid"),
            {"rid": rid, **params},
        )


def _rules_version(world: factories.WorkerWorld, rid: str) -> int:
    with world.sessions() as s:
        unscoped(s)
        return s.scalars(select(RulesVersion.id).where(RulesVersion.resource_id == rid)).one()


def _samples(world: factories.WorkerWorld, rid: str) -> int:
    with world.sessions() as s:
        return int(
            s.execute(
                text(
                    "SELECT count(*) FROM role_samples JOIN role_series r ON r.id = series_id "
                    "WHERE r.resource_id = :rid"
                ),
                {"rid": rid},
            ).scalar_one()
        )


def assert_healthy(world: factories.WorkerWorld, rid: str, reports: list[Report]) -> None:
    """Ticked, scaled and saved every round: one sample a round, no error of its
    own (the AMQP fallback's note aside), lease released."""
    st = world.state(rid)
    assert st.lease_owner is None and st.last_tick_at is not None
    assert st.status["error"] is None, st.status
    [role] = st.status["roles"]
    assert role["error"].startswith("management API unreachable"), role
    assert role["ready"] == READY and role["desired"] > 0, role
    assert _samples(world, rid) == len(reports)
    assert world.quantity("worker", "healthy-app") > 0


def healthy(world: factories.WorkerWorld) -> factories.Tenant:
    return world.tenant(
        factories.role_rules("jobs"), {"worker": 0}, app="healthy-app", management_url=NOBODY
    )


# -- a stored memory of the wrong shape -------------------------------------------


@pytest.mark.parametrize(
    ("stored", "where"),
    [
        # Each of these raised outside the tenant's tick: every round failed.
        ('{"formation": []}', "formation"),
        ('{"series": null}', "series"),
        ("[1, 2]", "all of it"),
        # These failed only that tenant's tick, but every time ("internal error").
        ('{"heroku": {"invalid": "yes"}}', "heroku"),
        ('{"limits": {"bad-app": {"worker": "3"}}}', "limits"),
    ],
)
def test_a_misshapen_stored_memory_is_reset_and_every_tenant_still_ticks(
    world: factories.WorkerWorld, stored: str, where: str
) -> None:
    good = healthy(world)
    bad = world.tenant(
        factories.role_rules("jobs"), {"worker": 0}, app="bad-app", management_url=NOBODY
    )
    seen: list[dict[str, Any]] = []

    def between(i: int) -> None:
        if i == 1:
            store_memory(world, bad.id, "CAST(:m AS jsonb)", m=stored)
        if i == 2:
            seen.append(world.state(bad.id).status)

    reports = rounds(world, 3, between=between)

    assert [(r.claimed, r.saved) for r in reports] == [(2, 2)] * 3
    assert_healthy(world, good.id, reports)
    [noted] = seen
    assert noted["error"] == f"the saved worker state was unreadable ({where}) and started afresh"
    assert noted["roles"][0]["desired"] is not None  # it was decided all the same
    st = world.state(bad.id)
    assert st.status["error"] is None  # the next tick is an ordinary one
    assert st.memory["roles"]["worker"]["scaler"]["model"] == "guvscale"


def test_a_scaler_state_that_does_not_restore_starts_that_role_afresh(
    world: factories.WorkerWorld,
) -> None:
    rules = factories.role_rules("jobs") + factories.role_rules("mail", "mailer")
    t = world.tenant(rules, {"worker": 0, "mailer": 0}, management_url=NOBODY)
    stored: dict[str, Any] = {}

    def between(i: int) -> None:
        if i == 1:
            store_memory(world, t.id, "jsonb_set(memory, '{roles,worker,scaler}', '[1]')")
            stored.update(world.state(t.id).memory["roles"]["mailer"]["scaler"])

    reports = rounds(world, 2, between=between)

    assert [(r.claimed, r.saved) for r in reports] == [(1, 1)] * 2
    st = world.state(t.id)
    assert st.status["error"] is None
    roles = {r["role"]: r for r in st.status["roles"]}
    assert "the saved scaling state was unreadable; started afresh" in roles["worker"]["error"]
    assert roles["worker"]["desired"] is not None
    assert "scaling state" not in roles["mailer"]["error"]
    assert st.memory["roles"]["worker"]["scaler"]["model"] == "guvscale"
    # The other role kept what it had learnt and went on from it.
    assert st.memory["roles"]["mailer"]["scaler"]["t"] > stored["t"]


def test_a_tick_cut_short_leaves_a_saveable_result_whatever_its_claim_holds() -> None:
    now = utcnow()
    stored = {
        "formation": {"acme-app": {"types": {"worker": 2}, "read_at": 1.0}, "odd-app": [1]},
        "roles": {"worker": {"scaler": [1]}},
        "series": {"worker": 7},
    }
    job = TenantJob(Claim("gvs-x", 3, now, stored, took_over=False), PLANS["basic"])

    timed_out = _cut_short(job, now, Progress(pending=[5]), "the tick took over 8 s")
    failed = _cut_short(job, now, Progress(), "internal error (TypeError)", internal=True)
    misshapen = TenantJob(Claim("gvs-y", 1, now, {"formation": []}, took_over=False), job.plan)
    odd = _cut_short(misshapen, now, Progress(), "internal error (AttributeError)", internal=True)

    stale = {"acme-app": {"types": {"worker": 2}, "read_at": 1.0, "stale": True}}
    assert timed_out.memory == {**stored, "formation": stale}
    assert timed_out.finished_events == {
        5: ("unknown: the tick took over 8 s before Heroku answered", None)
    }
    # A failure nobody foresaw must not recur every tick: the scaler states go.
    assert failed.memory == {"formation": stale, "series": {"worker": 7}}
    assert failed.status == {
        "error": "internal error (TypeError); its scaling state started afresh",
        "roles": [],
    }
    assert odd.memory == {} and odd.status["error"] == "internal error (AttributeError)"
    assert job.claim.memory == stored  # the claim stays as loaded


# -- rows the database refuses ---------------------------------------------------


def beside_a_healthy_tenant(
    world: factories.WorkerWorld, **role_change: Any
) -> tuple[factories.Tenant, Any]:
    """Three rounds of a healthy tenant beside one whose role, as the worker
    holds it, has `role_change` (rules an older release stored); asserts the
    healthy one was claimed, ticked and saved every round, and returns the
    other tenant and its worker state."""
    bad = world.tenant(
        factories.role_rules("jobs"), {"worker": 0}, app="bad-app", management_url=NOBODY
    )
    good = healthy(world)
    [role] = _parsed(factories.role_rules("jobs"))
    reports = rounds(world, 3, roles={bad.id: [dataclasses.replace(role, **role_change)]})
    assert [(r.claimed, r.saved) for r in reports] == [(2, 2)] * 3
    assert_healthy(world, good.id, reports)
    return bad, world.state(bad.id)


def test_a_role_the_database_cannot_record_is_that_tenants_error_only(
    world: factories.WorkerWorld,
) -> None:
    _, st = beside_a_healthy_tenant(world, name="r" * 150)  # role_series.role holds 100
    assert st.status["error"] == (
        "its roles cannot be recorded (value too long for type character varying(100))"
    )
    assert world.quantity("worker", "bad-app") == 0


def test_a_status_the_database_refuses_is_that_tenants_error_only(
    world: factories.WorkerWorld,
) -> None:
    bad, st = beside_a_healthy_tenant(world, queue="jo\x00bs")  # jsonb refuses \u0000
    assert st.lease_owner is None
    assert st.status == {
        "error": "this tick's results could not be saved (unsupported Unicode escape sequence)",
        "roles": [],
    }
    # What of it was saveable was saved: its samples, its scaling.
    assert _samples(world, bad.id) == 3
    outcomes = [e.outcome for e in world.events() if e.app == "bad-app"]
    assert outcomes and set(outcomes) == {"applied"}


@pytest.fixture
def unclamped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts reach the save as read: the readers clamp them to the samples'
    columns (`management.COUNT_MAX`), and these tests are of the save, for a
    value some reader lets through."""
    monkeypatch.setattr(queues, "COUNT_MAX", 2**80)


@pytest.mark.usefixtures("unclamped")
def test_a_count_no_column_holds_loses_only_that_tenants_samples(
    world: factories.WorkerWorld,
) -> None:
    good = healthy(world)
    huge = world.tenant(
        factories.role_rules("huge-q"), {"worker": 0}, app="bad-app", management_url=NOBODY
    )

    reports = rounds(world, 3, counts={"huge-q": 2**31})

    assert [(r.claimed, r.saved) for r in reports] == [(2, 2)] * 3
    assert_healthy(world, good.id, reports)
    st = world.state(huge.id)
    assert st.status["error"] == (
        "this tick's samples could not be stored "
        '(value "2147483648" is out of range for type integer)'
    )
    assert st.status["roles"][0]["ready"] == 2**31
    assert _samples(world, huge.id) == 0
    assert world.quantity("worker", "bad-app") > 0


@pytest.mark.usefixtures("unclamped")
def test_a_count_too_large_for_json_loses_only_that_tenants_results(
    world: factories.WorkerWorld,
) -> None:
    good = healthy(world)
    # Dry-run: its memory, with the count in its scaler state, reaches the save
    # (a PATCH would first write it, and fail, in the fence).
    huge = world.tenant(
        factories.role_rules("huge-q"),
        {"worker": 0},
        app="bad-app",
        management_url=NOBODY,
        dry_run=True,
    )

    reports = rounds(world, 3, counts={"huge-q": 2**64})

    assert [(r.claimed, r.saved) for r in reports] == [(2, 2)] * 3
    assert_healthy(world, good.id, reports)
    st = world.state(huge.id)
    assert st.lease_owner is None
    assert st.status == {
        "error": "this tick's results could not be saved (a value that cannot be stored); "
        "this tick's samples could not be stored (a value that cannot be stored)",
        "roles": [],
    }
    assert [e.outcome for e in world.events() if e.app == "bad-app"] == ["dry-run"] * 3


def _parsed(rules_text: str) -> list[Role]:
    return list(rules.load(rules_text).values())
