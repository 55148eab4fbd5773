"""The worker's rules of conduct, each against real RabbitMQ, PostgreSQL and the fake Heroku.

One queue with a backlog is filled once per module (the management API takes
a few seconds to show new messages); tests that need other queue states use
queues that do not exist or a management URL nobody answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from guvscale.clock import utcnow
from guvscale.db.crypto import Vault
from guvscale.db.scoping import unscoped
from guvscale.db.worker_models import ScalingEvent, TenantWorkerState, WorkerHeartbeat
from guvscale.worker.run import Report, run_once
from tests import factories
from tests.fake_heroku.fixtures import FakeHeroku
from tests.worker_fixtures import Broker

BACKLOG = 300


@pytest.fixture(scope="module")
def backlog() -> Iterator[str]:
    """A queue holding BACKLOG ready messages, as the management API shows them."""
    b = Broker()
    name = b.queue(messages=BACKLOG)
    b.wait_visible(name, BACKLOG)
    yield name
    b.close()


def rounds(make_worker: Any, count: int = 1, *, later: float = 0, **kw: Any) -> list[Report]:
    """`count` rounds 30 s apart, the first `later` seconds from now."""

    async def go() -> list[Report]:
        async with make_worker(**kw) as w:
            start = utcnow() + dt.timedelta(seconds=later)
            return [await run_once(w, start + dt.timedelta(seconds=30 * i)) for i in range(count)]

    return asyncio.run(go())


def all_events(sessions: sessionmaker[Session]) -> list[ScalingEvent]:
    with sessions() as s:
        unscoped(s)
        return list(s.scalars(select(ScalingEvent).order_by(ScalingEvent.id)))


def state_of(sessions: sessionmaker[Session], rid: str) -> TenantWorkerState:
    with sessions() as s:
        unscoped(s)
        return s.scalars(
            select(TenantWorkerState).where(TenantWorkerState.resource_id == rid)
        ).one()


def patch_bodies(fake: FakeHeroku) -> list[Any]:
    return [r.json for r in fake.state.requests_to("PATCH")]


def quantity(fake: FakeHeroku, kind: str, app: str = "acme-app") -> int:
    return fake.state.apps[app].formation[kind].quantity


def setup_tenant(
    sessions: sessionmaker[Session],
    vault: Vault,
    fake: FakeHeroku,
    rules: str,
    formation: dict[str, Any],
    **kw: Any,
) -> factories.Tenant:
    token = kw.pop("token", None) or fake.state.add_user_token()
    app = kw.pop("app", "acme-app")
    fake.state.add_app(app, formation)
    with sessions() as s:
        return factories.tenant(s, vault, rules=rules, token=token, app=app, **kw)


def test_one_batch_patch_per_app_with_only_the_changed_types(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    rules = (
        factories.role_rules(backlog, "worker")
        # This role already runs what it needs: its type must not be in the PATCH.
        + factories.role_rules("gvs-test-absent-queue", "steady", minimum=2)
        + f"thumbs:\n  queue: {backlog}\n  workers: [thumbs1, thumbs2, thumbs3]\n"
        "  minimum: 0\n  maximum: 3\n  processing: 1\n"
    )
    setup_tenant(
        sessions,
        vault,
        fake_heroku,
        rules,
        {
            "worker": 1,
            "steady": 2,
            "thumbs1": (1, "Eco"),
            "thumbs2": (0, "Eco"),
            "thumbs3": (0, "Eco"),
        },
    )

    rounds(make_worker)

    [body] = patch_bodies(fake_heroku)
    changed = {u["type"]: u["quantity"] for u in body["updates"]}
    assert "steady" not in changed and "thumbs1" not in changed
    assert changed["worker"] > 1
    assert changed["thumbs2"] == 1 and changed["thumbs3"] == 1
    assert all(q in (0, 1) for t, q in changed.items() if t.startswith("thumbs"))
    assert {e.process_type for e in all_events(sessions)} == set(changed)


def test_missing_queue_is_that_roles_error_only(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    rules = factories.role_rules(backlog, "worker") + factories.role_rules(
        "gvs-no-such-q", "mailer"
    )
    t = setup_tenant(sessions, vault, fake_heroku, rules, {"worker": 0, "mailer": 3})

    rounds(make_worker)

    roles = {r["role"]: r for r in state_of(sessions, t.id).status["roles"]}
    assert "not found" in roles["mailer"]["error"]
    assert roles["mailer"]["desired"] == 3  # held: a missing queue is not an empty one
    assert roles["worker"]["error"] is None
    assert quantity(fake_heroku, "worker") > 0 and quantity(fake_heroku, "mailer") == 3


def test_partial_data_never_scales_down(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    broker: Broker,
) -> None:
    empty = broker.queue(messages=0)
    t = setup_tenant(
        sessions,
        vault,
        fake_heroku,
        factories.role_rules(empty),
        {"worker": 5},
        # Nobody listens there: the worker falls back to AMQP (ready counts only).
        management_url="http://guest:guest@127.0.0.1:9",
    )

    rounds(make_worker, count=2)

    assert quantity(fake_heroku, "worker") == 5
    assert patch_bodies(fake_heroku) == []
    [role] = state_of(sessions, t.id).status["roles"]
    assert role["partial"] is True and role["ready"] == 0 and role["desired"] == 5
    with sessions() as s:
        assert s.execute(text("SELECT bool_and(partial) FROM role_samples")).scalar() is True


def test_dry_run_decides_and_records_but_never_patches(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    setup_tenant(
        sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0}, dry_run=True
    )
    rounds(make_worker)
    setup_tenant(
        sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0}, app="other-app"
    )
    rounds(make_worker, dry_run=True)  # the worker's --dry-run covers every tenant

    assert patch_bodies(fake_heroku) == []
    outcomes = [e.outcome for e in all_events(sessions)]
    assert outcomes == ["dry-run", "dry-run"]


def test_rate_limited_waits_for_the_refill_without_retrying(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    t = setup_tenant(sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0})
    fake_heroku.state.fail_next(5, 429, method="PATCH", retry_after=120)

    rounds(make_worker, count=3)  # 30 s apart: all within the pause

    assert len(fake_heroku.state.requests_to("PATCH")) == 1
    [event] = all_events(sessions)
    assert "rate limit" in event.outcome
    st = state_of(sessions, t.id)
    assert st.memory["heroku"]["paused_until"] > utcnow().timestamp()
    assert "rate limit" in (st.status["roles"][0]["error"] or "")


def test_limit_hit_is_remembered_clamped_and_shown(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    t = setup_tenant(sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0})
    fake_heroku.state.apps["acme-app"].limits["standard-1x"] = 2

    rounds(make_worker, count=2)

    first, second = all_events(sessions)
    assert "cannot_run_above_limit" in first.outcome and "2" in first.outcome
    assert (second.to_quantity, second.outcome) == (2, "applied")
    assert quantity(fake_heroku, "worker") == 2
    [role] = state_of(sessions, t.id).status["roles"]
    assert role["limit"] == 2 and "limit" in role["reason"]


def test_refused_token_is_marked_invalid_and_not_used_again(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    token = fake_heroku.state.add_user_token()
    t = setup_tenant(
        sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0}, token=token
    )
    fake_heroku.state.revoke(token)

    rounds(make_worker, count=3)

    assert len(fake_heroku.state.requests_to()) == 1  # the first refusal, then nothing
    st = state_of(sessions, t.id)
    assert "refused the token" in st.status["error"]
    assert st.memory["heroku"]["invalid"]


def test_server_errors_are_retried_within_the_tick(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    setup_tenant(sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0})
    fake_heroku.state.fail_next(2, 503, method="PATCH")

    rounds(make_worker)

    assert len(fake_heroku.state.requests_to("PATCH")) == 3
    [event] = all_events(sessions)
    assert event.outcome == "applied" and quantity(fake_heroku, "worker") == event.to_quantity


def test_state_persists_across_restarts(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    t = setup_tenant(sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0})
    rounds(make_worker, name="before")
    first = state_of(sessions, t.id).memory["roles"]["worker"]
    rounds(
        make_worker, name="after", later=30
    )  # a new process: all it knows comes from the database

    st = state_of(sessions, t.id)
    kept = st.memory["roles"]["worker"]
    assert kept["read_at"] > first["read_at"]
    # The publish rate needs the previous read's counter and time: both came back.
    assert st.status["roles"][0]["publishRate"] == 0.0
    assert kept["scaler"]["t"] == kept["read_at"]


def test_two_workers_share_tenants_each_decided_once(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    apps = [f"app-{i:02d}" for i in range(12)]
    token = fake_heroku.state.add_user_token()
    for app in apps:
        setup_tenant(
            sessions,
            vault,
            fake_heroku,
            factories.role_rules(backlog),
            {"worker": 0},
            app=app,
            token=token,
        )

    async def both() -> list[Report]:
        async with (
            make_worker(name="a", worker_batch=5) as a,
            make_worker(name="b", worker_batch=5) as b,
        ):
            now = utcnow()
            reports = []
            for i in range(3):
                later = now + dt.timedelta(seconds=i)  # the tenants stay due: 10 s interval
                reports += await asyncio.gather(run_once(a, later), run_once(b, later))
            return reports

    reports = asyncio.run(both())

    assert sum(r.claimed for r in reports) == len(apps)
    assert {r.json["updates"][0]["type"] for r in fake_heroku.state.requests_to("PATCH")} == {
        "worker"
    }
    assert sorted(r.path for r in fake_heroku.state.requests_to("PATCH")) == sorted(
        f"/apps/{app}/formation" for app in apps
    )
    assert len(all_events(sessions)) == len(apps)
    with sessions() as s:
        beats = {b.worker_id: b for b in s.scalars(select(WorkerHeartbeat))}
    assert set(beats) == {"a", "b"} and sum(b.decisions for b in beats.values()) == len(apps)


def test_a_dead_workers_tenants_are_taken_over_and_its_pending_change_closed(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    t = setup_tenant(sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0})

    async def crash_then_take_over() -> Report:
        async with make_worker(name="dead") as dead, make_worker(name="alive") as alive:
            now = utcnow()
            [job] = await asyncio.to_thread(dead._prepare, now)  # claimed, then it dies
            from guvscale.worker.types import EventRow

            await dead._fence(
                job.claim,
                [EventRow(now, "worker", "acme-app", "worker", 0, 3, "test", "pending")],
                job.claim.memory,
            )
            early = await run_once(alive, now + dt.timedelta(seconds=1))
            assert early.claimed == 0  # the lease still holds
            lease = dead.options.lease_for
            return await run_once(alive, now + lease + dt.timedelta(seconds=1))

    report = asyncio.run(crash_then_take_over())

    assert report.claimed == 1 and report.counters.takeovers == 1
    orphan, applied = all_events(sessions)
    assert orphan.outcome.startswith("unknown")
    assert applied.outcome == "applied"
    assert state_of(sessions, t.id).lease_owner is None
    # Lease length < two 10 s intervals: the crash costs at most one missed tick.
    assert make_worker and dt.timedelta(seconds=20) > dt.timedelta(seconds=12)


def test_one_unreadable_tenant_does_not_stop_the_others(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    broken = setup_tenant(
        sessions, vault, fake_heroku, "worker: [not, a, mapping\n", {"worker": 0}, app="broken-app"
    )
    setup_tenant(sessions, vault, fake_heroku, factories.role_rules(backlog), {"worker": 0})

    rounds(make_worker)

    assert "rules" in state_of(sessions, broken.id).status["error"]
    assert quantity(fake_heroku, "worker") > 0


def test_a_slow_tenant_holds_up_no_other(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    backlog: str,
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections are accepted by the kernel; nothing ever answers
    try:
        slow = setup_tenant(
            sessions,
            vault,
            fake_heroku,
            factories.role_rules(backlog),
            {"worker": 0},
            app="slow-app",
            management_url=f"http://g:g@127.0.0.1:{silent.getsockname()[1]}",
        )
        fast = [
            setup_tenant(
                sessions,
                vault,
                fake_heroku,
                factories.role_rules(backlog),
                {"worker": 0},
                app=f"fast-{i}",
            )
            for i in range(4)
        ]
        rounds(make_worker, worker_concurrency=2)
    finally:
        silent.close()
    slow_at = state_of(sessions, slow.id).last_tick_at
    assert slow_at is not None
    for t in fast:
        at = state_of(sessions, t.id).last_tick_at
        assert at is not None and at < slow_at - dt.timedelta(seconds=1)
    assert state_of(sessions, slow.id).status["roles"][0]["partial"] is True
