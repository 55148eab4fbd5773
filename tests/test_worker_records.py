"""Records: partitions made and dropped, rollups, status/events routes, /metrics, /health."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import Vault
from guvscale.db.migrate import alembic_config
from guvscale.db.scoping import unscoped
from guvscale.db.worker_models import RoleSample, ScalingEvent, TenantWorkerState, WorkerHeartbeat
from guvscale.records import partitions, rollups
from guvscale.services import records
from tests import factories

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def names(engine: Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        return sorted(partitions.existing(conn, table))


def test_partitions_are_made_ahead_and_dropped_past_retention(
    engine: Engine, sessions: object
) -> None:
    with engine.begin() as conn:
        partitions.maintain(conn, T0)
    raw = names(engine, "role_samples")
    assert "role_samples_p2026120111" in raw and "role_samples_p2026120115" in raw
    with engine.begin() as conn:
        _, dropped = partitions.maintain(conn, T0 + dt.timedelta(hours=8))
    assert "role_samples_p2026120111" in dropped
    assert "role_samples_p2026120111" not in names(engine, "role_samples")
    assert "role_samples_1m_p2026120100" in names(engine, "role_samples_1m")  # kept 7 days
    # Partitions are invisible to Alembic: the models and migrations still agree.
    with engine.begin() as conn:
        command.check(alembic_config(conn))


def test_rollups_average_complete_buckets_once(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with engine.begin() as conn:
        partitions.maintain(conn, T0)
        conn.execute(text("DELETE FROM rollup_marks"))
    rows = [
        {
            "series_id": 7,
            "at": T0 + dt.timedelta(seconds=10 * i),
            "ready": 10 * i,
            "unacked": 1,
            "consumers": 2,
            "publish_rate": 1.0,
            "ack_rate": 0.5,
            "current": i % 3,
            "desired": 2,
            "partial": i == 3,
        }
        for i in range(12)  # two minutes of 10 s samples
    ]
    with sessions.begin() as s:
        s.execute(RoleSample.__table__.insert(), rows)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO rollup_marks (name, done_until) VALUES ('1m', :t), ('10m', :t)"),
            {"t": T0},
        )
        rollups.run(conn, T0 + dt.timedelta(minutes=3))
        rollups.run(conn, T0 + dt.timedelta(minutes=3))  # again: nothing doubles
        minutes = conn.execute(
            text(
                "SELECT at, samples, ready, ready_max, current, partial "
                "FROM role_samples_1m ORDER BY at"
            )
        ).all()
    assert [tuple(m) for m in minutes] == [
        (T0, 6, 25, 50, 2, True),
        (T0 + dt.timedelta(minutes=1), 6, 85, 110, 2, False),
    ]


def rolled_up(engine: Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT at, samples, ready, ready_max, unacked, consumers, publish_rate "
                    f"FROM {table} ORDER BY at"
                )
            )
        ]


def roll_up_from(engine: Engine, start: dt.datetime, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rollup_marks"))
        conn.execute(
            text("INSERT INTO rollup_marks (name, done_until) VALUES ('1m', :t), ('10m', :t)"),
            {"t": start},
        )
        rollups.run(conn, now)


def test_rollups_of_a_queue_at_the_top_of_int4_do_not_overflow(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # Ten minutes of 10 s polls of a queue as full as role_samples can hold:
    # the ten-minute means once multiplied in int4 and failed everyone's upkeep.
    top = 2**31 - 1
    t = factories.add_tenant(sessions)
    rows: list[dict[str, object]] = [
        {
            "at": T0 + dt.timedelta(seconds=10 * i),
            "ready": top,
            "unacked": top,
            "consumers": top,
            "publish_rate": 3e38,
        }
        for i in range(60)
    ]
    factories.record_samples(sessions, t, "worker", rows)

    roll_up_from(engine, T0, T0 + dt.timedelta(minutes=11))

    minutes = rolled_up(engine, "role_samples_1m")
    assert len(minutes) == 10
    assert {m[1:6] for m in minutes} == {(6, top, top, top, top)}
    [ten] = rolled_up(engine, "role_samples_10m")
    assert ten[:6] == (T0, 60, top, top, top, top)
    assert ten[6] == pytest.approx(3e38, rel=1e-6)


def test_a_minute_of_more_samples_than_int2_counts_rolls_up_clamped(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    t = factories.add_tenant(sessions)
    factories.record_burst(sessions, t, "worker", T0, 40_000)

    roll_up_from(engine, T0, T0 + dt.timedelta(minutes=11))

    assert [m[:3] for m in rolled_up(engine, "role_samples_1m")] == [(T0, 32767, 1)]
    assert [m[:3] for m in rolled_up(engine, "role_samples_10m")] == [(T0, 32767, 1)]


def test_status_and_events_routes(
    client: TestClient, sessions: sessionmaker[Session], vault: Vault
) -> None:
    with sessions() as s:
        t = factories.tenant(s, vault, rules=factories.role_rules("q1"))
        other = factories.tenant(s, vault, rules=factories.role_rules("q2"), app="other-app")
    with sessions.begin() as s:
        unscoped(s)
        s.add(
            TenantWorkerState(
                resource_id=t.id,
                due_at=T0,
                last_tick_at=T0,
                memory={},
                status={
                    "error": None,
                    "roles": [
                        {
                            "role": "worker",
                            "queue": "q1",
                            "ready": 4,
                            "unacked": 1,
                            "consumers": 1,
                            "publishRate": 0.5,
                            "current": 1,
                            "desired": 2,
                            "reason": "up",
                            "observedAt": T0.isoformat(),
                            "error": None,
                        }
                    ],
                },
            )
        )
        for i in range(3):
            s.add(
                ScalingEvent(
                    resource_id=t.id,
                    at=T0 + dt.timedelta(minutes=i),
                    role="worker",
                    app="acme-app",
                    process_type="worker",
                    from_quantity=i,
                    to_quantity=i + 1,
                    reason=f"step {i}",
                    request_id=f"req-{i}",
                    outcome="applied",
                )
            )
        s.add(
            ScalingEvent(
                resource_id=other.id,
                at=T0,
                role="x",
                app="other-app",
                process_type="x",
                from_quantity=0,
                to_quantity=1,
                reason="theirs",
                outcome="applied",
            )
        )

    status = client.get(f"/config/{t.id}/status", headers=t.auth)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["pollInterval"] == 10 and body["app"] == "acme-app"
    assert body["lastTick"].startswith("2026-12-01T12:00")
    [role] = body["roles"]
    assert (role["role"], role["ready"], role["publishRate"], role["desired"]) == (
        "worker",
        4,
        0.5,
        2,
    )

    page = client.get(f"/config/{t.id}/events?limit=2", headers=t.auth).json()["events"]
    assert [e["reason"] for e in page] == ["step 2", "step 1"]
    assert page[0] == {
        "id": page[0]["id"],
        "at": page[0]["at"],
        "role": "worker",
        "app": "acme-app",
        "processType": "worker",
        "from": 2,
        "to": 3,
        "reason": "step 2",
        "requestId": "req-2",
        "outcome": "applied",
    }
    older = client.get(
        f"/config/{t.id}/events", params={"before": page[-1]["at"]}, headers=t.auth
    ).json()["events"]
    assert [e["reason"] for e in older] == ["step 0"]

    assert client.get(f"/config/{t.id}/status").status_code == 401
    assert client.get(f"/config/{t.id}/events", headers=other.auth).status_code == 401
    assert client.get(f"/config/{t.id}/events?limit=0", headers=t.auth).status_code == 422


def test_metrics_and_worker_health(
    client: TestClient, sessions: sessionmaker[Session], app: Any
) -> None:
    assert client.get("/health").json()["worker"] == "absent"
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as s:
        s.add(
            WorkerHeartbeat(
                worker_id="worker.1:42",
                started_at=now,
                last_tick_at=now,
                ticks=5,
                tick_seconds_total=1.5,
                last_tick_seconds=0.2,
                decisions=40,
                heroku_calls=3,
                takeovers=1,
                lowest_rate_limit_remaining=4400,
                errors={"queue_missing": 2},
            )
        )
    assert client.get("/health").json()["worker"] == "ok"
    text_ = client.get("/metrics").text
    assert 'guvscale_worker_decisions_total{worker="worker.1:42"} 40' in text_
    assert 'guvscale_worker_errors_total{worker="worker.1:42",kind="queue_missing"} 2' in text_
    assert 'guvscale_heroku_rate_limit_remaining_lowest{worker="worker.1:42"} 4400' in text_
    assert 'guvscale_worker_lease_takeovers_total{worker="worker.1:42"} 1' in text_

    with sessions.begin() as s:
        beat = s.get(WorkerHeartbeat, "worker.1:42")
        assert beat is not None
        beat.last_tick_at = now - dt.timedelta(seconds=3 * 10 + 1)
    # Still 200: the web serves, and Heroku restarting a web dyno would not help a stale worker.
    stale = client.get("/health")
    assert stale.status_code == 200 and stale.json()["worker"] == "stale"
    assert stale.json()["status"] == "ok"
    with sessions() as s:
        assert records.worker_health(unscoped(s), now) == "stale"

    app.state.settings.metrics_token = "m-secret"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer m-secret"}).status_code == 200
    # A byte past ASCII is a wrong token like any other, not a 500.
    latin = client.get("/metrics", headers={"Authorization": b"Bearer caf\xe9"})
    assert latin.status_code == 401


def test_the_worker_prunes_events_older_than_90_days_under_the_maintenance_lock(
    world: factories.WorkerWorld, engine: Engine
) -> None:
    from guvscale.records import events

    t = factories.add_tenant(world.sessions)
    now = dt.datetime.now(dt.UTC)
    for days in (120, 91, 89, 0):
        factories.record_event(
            world.sessions, t, at=now - dt.timedelta(days=days), reason=f"{days} days ago"
        )

    # Another worker holds the upkeep lock: this one leaves the events alone.
    with engine.begin() as other, engine.begin() as conn:
        other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": partitions.MAINTENANCE_LOCK})
        assert events.prune(conn, now) == 0
    assert len(world.events()) == 4

    world.rounds()  # its once-a-minute upkeep runs at the start of its first round

    assert [e.reason for e in world.events()] == ["89 days ago", "0 days ago"]


def test_a_failing_rollup_is_logged_and_stops_neither_the_ticks_nor_the_other_upkeep(
    world: factories.WorkerWorld,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = world.tenant(factories.role_rules("no-such-queue"), {"worker": 0})
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    factories.record_event(world.sessions, t, at=old, reason="120 days ago")
    runs: list[dt.datetime] = []

    def overflowing(conn: Connection, now: dt.datetime) -> int:
        runs.append(now)
        # What a queue of 2^31 messages once did to the ten-minute rollup.
        conn.execute(text("SELECT 2147483647 * 2"))
        return 0

    monkeypatch.setattr(rollups, "run", overflowing)

    with caplog.at_level(logging.ERROR, logger="guvscale.worker.run"):
        reports = world.rounds(2)

    assert [r.claimed for r in reports] == [1, 1]
    assert world.state(t.id).last_tick_at is not None
    assert len(runs) == 1  # left to the next upkeep, not retried every round
    [failed] = [r for r in caplog.records if r.exc_info]
    assert "rollups failed" in failed.getMessage()
    assert "integer out of range" in str(failed.exc_info[1])
    # The pruning after it ran in its own transaction.
    assert "120 days ago" not in [e.reason for e in world.events()]


def test_ten_minute_means_leave_out_the_minutes_without_a_reading(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    # Five minutes of a 400-job queue, five with the broker unreadable (no
    # counts): the mean was taken over all ten minutes' samples, 200.
    t = factories.add_tenant(sessions)
    rows: list[dict[str, object]] = [
        {"at": T0 + dt.timedelta(seconds=10 * i), "ready": 400 if i < 30 else None}
        for i in range(60)
    ]
    factories.record_samples(sessions, t, "worker", rows)

    roll_up_from(engine, T0, T0 + dt.timedelta(minutes=11))

    [ten] = rolled_up(engine, "role_samples_10m")
    assert ten[:3] == (T0, 60, 400)
