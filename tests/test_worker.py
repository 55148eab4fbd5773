"""The worker's rules of conduct, each against real RabbitMQ, PostgreSQL and the fake Heroku.

One queue with a backlog is filled once per module (the management API takes
a few seconds to show new messages); tests that need other queue states use
queues that do not exist or a management URL nobody answers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, select, text

from guvscale import wiring
from guvscale.clock import utcnow
from guvscale.db.worker_models import WorkerHeartbeat
from guvscale.rabbitmq import BrokerUnreachable
from guvscale.records import rollups
from guvscale.worker import leases, run
from guvscale.worker.run import Report, run_forever, run_once
from guvscale.worker.types import Claim
from tests import factories
from tests.rabbitmq_fixtures import Broker
from tests.silent_broker import SilentBroker
from tests.waiting import returns_within

BACKLOG = 300


@pytest.fixture(scope="module")
def backlog(rabbitmq: str) -> Iterator[str]:
    """A queue holding BACKLOG ready messages, as the management API shows them."""
    b = Broker(rabbitmq)
    name = b.queue(messages=BACKLOG)
    b.wait_visible(name, BACKLOG)
    yield name
    b.close()


def test_one_batch_patch_per_app_with_only_the_changed_types(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    rules = (
        factories.role_rules(backlog, "worker")
        # This role already runs what it needs: its type must not be in the PATCH.
        + factories.role_rules("gvs-test-absent-queue", "steady", minimum=2)
        + f"thumbs:\n  queue: {backlog}\n  workers: [thumbs1, thumbs2, thumbs3]\n"
        "  minimum: 0\n  maximum: 3\n  processing: 1\n"
    )
    world.tenant(
        rules,
        {
            "worker": 1,
            "steady": 2,
            "thumbs1": (1, "Eco"),
            "thumbs2": (0, "Eco"),
            "thumbs3": (0, "Eco"),
        },
    )

    world.rounds()

    [body] = world.patches()
    changed = {u["type"]: u["quantity"] for u in body["updates"]}
    assert "steady" not in changed and "thumbs1" not in changed
    assert changed["worker"] > 1
    assert changed["thumbs2"] == 1 and changed["thumbs3"] == 1
    assert all(q in (0, 1) for t, q in changed.items() if t.startswith("thumbs"))
    assert {e.process_type for e in world.events()} == set(changed)


def test_missing_queue_is_that_roles_error_only(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    rules = factories.role_rules(backlog, "worker") + factories.role_rules(
        "gvs-no-such-q", "mailer"
    )
    t = world.tenant(rules, {"worker": 0, "mailer": 3})

    world.rounds()

    roles = {r["role"]: r for r in world.state(t.id).status["roles"]}
    assert "not found" in roles["mailer"]["error"]
    assert roles["mailer"]["desired"] == 3  # held: a missing queue is not an empty one
    assert roles["worker"]["error"] is None
    assert world.quantity("worker") > 0 and world.quantity("mailer") == 3


def test_partial_data_never_scales_down(
    world: factories.WorkerWorld,
    broker: Broker,
) -> None:
    empty = broker.queue(messages=0)
    t = world.tenant(
        factories.role_rules(empty),
        {"worker": 5},
        # Nobody listens there: the worker falls back to AMQP (ready counts only).
        management_url="http://guest:guest@127.0.0.1:9",
    )

    world.rounds(count=2)

    assert world.quantity("worker") == 5
    assert world.patches() == []
    [role] = world.state(t.id).status["roles"]
    assert role["partial"] is True and role["ready"] == 0 and role["desired"] == 5
    with world.sessions() as s:
        assert s.execute(text("SELECT bool_and(partial) FROM role_samples")).scalar() is True


def test_dry_run_decides_and_records_but_never_patches(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    world.tenant(factories.role_rules(backlog), {"worker": 0}, dry_run=True)
    world.rounds()
    world.tenant(factories.role_rules(backlog), {"worker": 0}, app="other-app")
    world.rounds(dry_run=True)  # the worker's --dry-run covers every tenant

    assert world.patches() == []
    outcomes = [e.outcome for e in world.events()]
    assert outcomes == ["dry-run", "dry-run"]


def test_rate_limited_waits_for_the_refill_without_retrying(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    t = world.tenant(factories.role_rules(backlog), {"worker": 0})
    world.fake.state.fail_next(5, 429, method="PATCH", retry_after=120)

    world.rounds(count=3)  # 30 s apart: all within the pause

    assert len(world.fake.state.requests_to("PATCH")) == 1
    [event] = world.events()
    assert "rate limit" in event.outcome
    st = world.state(t.id)
    assert st.memory["heroku"]["paused_until"] > utcnow().timestamp()
    assert "rate limit" in (st.status["roles"][0]["error"] or "")


def test_limit_hit_is_remembered_clamped_and_shown(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    t = world.tenant(factories.role_rules(backlog), {"worker": 0})
    world.fake.state.apps["acme-app"].limits["standard-1x"] = 2

    world.rounds(count=2)

    first, second = world.events()
    assert "cannot_run_above_limit" in first.outcome and "2" in first.outcome
    assert (second.to_quantity, second.outcome) == (2, "applied")
    assert world.quantity("worker") == 2
    [role] = world.state(t.id).status["roles"]
    assert role["limit"] == 2 and "limit" in role["reason"]


def test_refused_token_is_marked_invalid_and_not_used_again(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    token = world.fake.state.add_user_token()
    t = world.tenant(factories.role_rules(backlog), {"worker": 0}, token=token)
    world.fake.state.revoke(token)

    world.rounds(count=3)

    assert len(world.fake.state.requests_to()) == 1  # the first refusal, then nothing
    st = world.state(t.id)
    assert "refused the token" in st.status["error"]
    assert st.memory["heroku"]["invalid"]


def test_server_errors_are_retried_within_the_tick(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    world.tenant(factories.role_rules(backlog), {"worker": 0})
    world.fake.state.fail_next(2, 503, method="PATCH")

    world.rounds()

    assert len(world.fake.state.requests_to("PATCH")) == 3
    [event] = world.events()
    assert event.outcome == "applied" and world.quantity("worker") == event.to_quantity


def test_state_persists_across_restarts(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    t = world.tenant(factories.role_rules(backlog), {"worker": 0})
    world.rounds(name="before")
    first = world.state(t.id).memory["roles"]["worker"]
    world.rounds(name="after", later=30)  # a new process: all it knows comes from the database

    st = world.state(t.id)
    kept = st.memory["roles"]["worker"]
    assert kept["read_at"] > first["read_at"]
    # The publish rate needs the previous read's counter and time: both came back.
    assert st.status["roles"][0]["publishRate"] == 0.0
    assert kept["scaler"]["t"] == kept["read_at"]


def test_two_workers_share_tenants_each_decided_once(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    apps = [f"app-{i:02d}" for i in range(12)]
    token = world.fake.state.add_user_token()
    for app in apps:
        world.tenant(
            factories.role_rules(backlog),
            {"worker": 0},
            app=app,
            token=token,
        )

    async def both() -> list[Report]:
        async with (
            world.make_worker(name="a", worker_batch=5) as a,
            world.make_worker(name="b", worker_batch=5) as b,
        ):
            now = utcnow()
            reports = []
            for i in range(3):
                later = now + dt.timedelta(seconds=i)  # the tenants stay due: 10 s interval
                reports += await asyncio.gather(run_once(a, later), run_once(b, later))
            return reports

    reports = asyncio.run(both())

    assert sum(r.claimed for r in reports) == len(apps)
    assert {r.json["updates"][0]["type"] for r in world.fake.state.requests_to("PATCH")} == {
        "worker"
    }
    assert sorted(r.path for r in world.fake.state.requests_to("PATCH")) == sorted(
        f"/apps/{app}/formation" for app in apps
    )
    assert len(world.events()) == len(apps)
    with world.sessions() as s:
        beats = {b.worker_id: b for b in s.scalars(select(WorkerHeartbeat))}
    assert set(beats) == {"a", "b"} and sum(b.decisions for b in beats.values()) == len(apps)


def test_a_dead_workers_tenants_are_taken_over_and_its_pending_change_closed(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    t = world.tenant(factories.role_rules(backlog), {"worker": 0})

    async def crash_then_take_over() -> tuple[Report, dt.timedelta]:
        async with world.make_worker(name="dead") as dead, world.make_worker(name="alive") as alive:
            now = utcnow()
            [job] = await asyncio.to_thread(dead._prepare)  # claimed, then it dies
            from guvscale.worker.types import EventRow

            await dead._fence(
                job.claim,
                [EventRow(now, "worker", "acme-app", "worker", 0, 3, "test", "pending")],
                job.claim.memory,
            )
            early = await run_once(alive, now + dt.timedelta(seconds=1))
            assert early.claimed == 0  # the lease still holds
            lease = dead.options.lease_for
            return await run_once(alive, now + lease + dt.timedelta(seconds=1)), lease

    report, lease = asyncio.run(crash_then_take_over())

    assert report.claimed == 1 and report.counters.takeovers == 1
    orphan, applied = world.events()
    assert orphan.outcome.startswith("unknown")
    assert applied.outcome == "applied"
    assert world.state(t.id).lease_owner is None
    # Lease length < two 10 s intervals: the crash costs at most one missed tick.
    assert lease < dt.timedelta(seconds=20)


def test_a_lease_claimed_after_a_slow_upkeep_runs_its_full_length_from_the_claim(
    world: factories.WorkerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.tenant(factories.role_rules("no-such-queue"), {"worker": 0})
    clock = [utcnow()]
    monkeypatch.setattr(run, "utcnow", lambda: clock[0])
    real_rollups, real_claim = rollups.run, leases.claim

    def slow_rollups(conn: Connection, now: dt.datetime) -> int:
        clock[0] += dt.timedelta(seconds=13)  # what one took in production
        return real_rollups(conn, now)

    claimed: list[tuple[dt.datetime, dt.datetime]] = []  # (lease_until, clock at the claim)

    def claim(conn: Connection, owner: str, now: dt.datetime, **kw: Any) -> list[Claim]:
        claims = real_claim(conn, owner, now, **kw)
        until = text("SELECT lease_until FROM tenant_worker_state WHERE lease_owner = :o")
        claimed.extend((u, clock[0]) for u in conn.execute(until, {"o": owner}).scalars())
        return claims

    monkeypatch.setattr(rollups, "run", slow_rollups)
    monkeypatch.setattr(leases, "claim", claim)

    async def one_round() -> dt.timedelta:
        async with world.make_worker() as w:
            await run_once(w)
            return w.options.lease_for

    lease_for = asyncio.run(one_round())

    [(until, at)] = claimed
    assert until - at == lease_for  # not expired already, so no other worker takes it


def test_one_unreadable_tenant_does_not_stop_the_others(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    broken = world.tenant("worker: [not, a, mapping\n", {"worker": 0}, app="broken-app")
    world.tenant(factories.role_rules(backlog), {"worker": 0})

    world.rounds()

    assert "rules" in world.state(broken.id).status["error"]
    assert world.quantity("worker") > 0


def test_a_slow_tenant_holds_up_no_other(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # connections are accepted by the kernel; nothing ever answers
    try:
        slow = world.tenant(
            factories.role_rules(backlog),
            {"worker": 0},
            app="slow-app",
            management_url=f"http://g:g@127.0.0.1:{silent.getsockname()[1]}",
        )
        fast = [
            world.tenant(
                factories.role_rules(backlog),
                {"worker": 0},
                app=f"fast-{i}",
            )
            for i in range(4)
        ]
        world.rounds(worker_concurrency=2)
    finally:
        silent.close()
    slow_at = world.state(slow.id).last_tick_at
    assert slow_at is not None
    for t in fast:
        at = world.state(t.id).last_tick_at
        assert at is not None and at < slow_at - dt.timedelta(seconds=1)
    assert world.state(slow.id).status["roles"][0]["partial"] is True


SMALL_POOL = 2  # threads in the event loop's default executor, for the tests below


def rounds_on_a_small_pool(world: factories.WorkerWorld, count: int) -> list[Report]:
    """`count` rounds 30 s apart in one event loop whose default executor has
    SMALL_POOL threads, so that a thread lost per round shows within a few
    rounds on any machine (its usual size is the CPU count + 4)."""

    async def go() -> list[Report]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(SMALL_POOL))
        async with world.make_worker() as w:
            start = utcnow()
            return [await run_once(w, start + dt.timedelta(seconds=30 * i)) for i in range(count)]

    return asyncio.run(go())


def test_a_broker_silent_after_the_handshake_holds_up_no_other_tenant(
    world: factories.WorkerWorld,
    backlog: str,
) -> None:
    rounds = SMALL_POOL + 3
    with SilentBroker("declare") as silent:
        bad = world.tenant(
            factories.role_rules("jobs"),
            {"worker": 2},
            app="silent-app",
            broker_url=silent.url,
            # Nobody listens there: the worker falls back to AMQP at once.
            management_url="http://guest:guest@127.0.0.1:9",
        )
        good = world.tenant(factories.role_rules(backlog), {"worker": 0})

        reports = returns_within(lambda: rounds_on_a_small_pool(world, rounds), timeout=120)

        assert silent.declares == rounds  # asked each round: it never answered
    assert [(r.claimed, r.saved) for r in reports] == [(2, 2)] * rounds
    error = world.state(bad.id).status["error"]
    assert "AMQP" in error and "no answer" in error and "silent-secret-pw" not in error
    assert world.state(good.id).status["error"] is None
    assert world.quantity("worker") > 0


def test_a_fallback_call_that_never_returns_starves_no_other_tenant_and_stop_still_stops(
    world: factories.WorkerWorld, backlog: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind the adapter's own timeout: a broker call that hangs anyway (a stuck
    name lookup, a library bug) must cost the worker nothing but that call."""
    release = threading.Event()
    calls: list[str] = []

    def never_returns(url: str, queue: str, *, timeout: float, allow_private: bool) -> None:
        calls.append(queue)
        release.wait()
        raise BrokerUnreachable("released at the end of the test")

    monkeypatch.setattr(wiring, "passive_declare", never_returns)
    world.tenant(
        factories.role_rules("jobs"),
        {"worker": 2},
        app="stuck-app",
        management_url="http://guest:guest@127.0.0.1:9",  # fails at once: AMQP next
    )
    good = world.tenant(factories.role_rules(backlog), {"worker": 0})
    ticks = SMALL_POOL + 3

    async def tick_then_stop() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(SMALL_POOL))
        async with world.make_worker(worker_poll_seconds=1) as w:
            stop = asyncio.Event()  # what SIGTERM sets
            running = asyncio.create_task(run_forever(w, stop))
            while samples_of(world, good.id) < ticks:
                await asyncio.sleep(0.2)
            stop.set()
            await running

    try:
        returns_within(lambda: asyncio.run(tick_then_stop()), timeout=120)
    finally:
        release.set()
    assert calls == ["jobs"]  # asked once: never again while that call runs


def samples_of(world: factories.WorkerWorld, rid: str) -> int:
    """Samples saved for the tenant's roles: one per tick."""
    with world.sessions() as s:
        found = s.execute(
            text(
                "SELECT count(*) FROM role_samples JOIN role_series ON role_series.id = series_id"
                " WHERE role_series.resource_id = :rid"
            ),
            {"rid": rid},
        ).scalar()
    return int(found or 0)


def test_a_roles_app_key_scales_that_app_with_one_batch_patch_per_app(
    world: factories.WorkerWorld, backlog: str
) -> None:
    rules = (
        factories.role_rules(backlog, "worker")
        + factories.role_rules(backlog, "thumbs", app="media-app")
        + factories.role_rules(backlog, "mailer", app="media-app")
    )
    token = world.fake.state.add_user_token()
    world.fake.state.add_app("media-app", {"thumbs": 0, "mailer": 0, "web": 1})
    world.tenant(rules, {"worker": 0, "thumbs": 0}, token=token)

    world.rounds()

    by_path = {r.path: r.json for r in world.fake.state.requests_to("PATCH")}
    assert set(by_path) == {"/apps/acme-app/formation", "/apps/media-app/formation"}
    assert [u["type"] for u in by_path["/apps/acme-app/formation"]["updates"]] == ["worker"]
    assert sorted(u["type"] for u in by_path["/apps/media-app/formation"]["updates"]) == [
        "mailer",
        "thumbs",
    ]
    assert world.quantity("thumbs", "media-app") > 0 and world.quantity("thumbs") == 0
    assert {(e.app, e.process_type) for e in world.events()} == {
        ("acme-app", "worker"),
        ("media-app", "thumbs"),
        ("media-app", "mailer"),
    }


def test_add_ons_sharing_one_heroku_token_are_paced_jointly(
    world: factories.WorkerWorld, backlog: str
) -> None:
    from guvscale.worker.pacing import RESERVE

    token = world.fake.state.add_user_token()
    # Three add-ons on one account: the first call shows the bucket nearly empty.
    world.fake.state.set_rate_limit(RESERVE - 5)
    tenants = [
        world.tenant(factories.role_rules(backlog), {"worker": 0}, app=f"shared-{i}", token=token)
        for i in range(3)
    ]

    world.rounds(worker_concurrency=1)  # one after another, in one process

    # One request saw RateLimit-Remaining below the reserve; the others waited for the refill.
    assert len(world.fake.state.requests_to()) == 1
    statuses = [world.state(t.id).status for t in tenants]
    waiting = [s for s in statuses if "rate limit" in str(s["roles"][0]["error"])]
    assert len(waiting) == 3, statuses
    # Each tenant keeps a copy, keyed by the token's digest and never the token.
    memories = [world.state(t.id).memory["heroku"] for t in tenants]
    assert len({m["fp"] for m in memories}) == 1 and token not in str(memories)
