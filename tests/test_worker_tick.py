"""One worker round against real RabbitMQ, the fake Heroku and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import Vault
from guvscale.db.scoping import unscoped
from guvscale.db.worker_models import ScalingEvent, TenantWorkerState
from guvscale.worker.run import Report, run_once
from tests import factories
from tests.fake_heroku.fixtures import FakeHeroku
from tests.worker_fixtures import Broker


def one_round(make_worker: Any, **kw: Any) -> Report:
    async def go() -> Report:
        async with make_worker(**kw) as w:
            return await run_once(w)

    return asyncio.run(go())


def events(sessions: sessionmaker[Session]) -> list[ScalingEvent]:
    with sessions() as s:
        unscoped(s)
        return list(s.scalars(select(ScalingEvent).order_by(ScalingEvent.id)))


def state(sessions: sessionmaker[Session], rid: str) -> TenantWorkerState:
    with sessions() as s:
        unscoped(s)
        return s.scalars(
            select(TenantWorkerState).where(TenantWorkerState.resource_id == rid)
        ).one()


def patches(fake: FakeHeroku) -> list[Any]:
    return [r.json for r in fake.state.requests_to("PATCH")]


def test_backlog_scales_up_with_one_batch_patch_and_records_it(
    make_worker: Any,
    sessions: sessionmaker[Session],
    vault: Vault,
    fake_heroku: FakeHeroku,
    broker: Broker,
) -> None:
    token = fake_heroku.state.add_user_token()
    fake_heroku.state.add_app("acme-app", {"web": 1, "worker": 0, "other": 2})
    queue = broker.queue(messages=200)
    broker.wait_visible(queue, 200)
    with sessions() as s:
        r = factories.tenant(s, vault, rules=factories.role_rules(queue), token=token)

    report = one_round(make_worker)

    st0 = state(sessions, r.id)
    assert report.claimed == 1 and report.saved == 1, st0.status
    assert patches(fake_heroku), str(st0.status["roles"])
    assert patches(fake_heroku) == [{"updates": [{"type": "worker", "quantity": 10}]}] or (
        len(patches(fake_heroku)) == 1
        and [u["type"] for u in patches(fake_heroku)[0]["updates"]] == ["worker"]
    )
    quantity = fake_heroku.state.apps["acme-app"].formation["worker"].quantity
    assert quantity > 0
    [event] = events(sessions)
    assert (event.role, event.from_quantity, event.to_quantity) == ("worker", 0, quantity)
    assert event.outcome == "applied" and event.request_id
    st = state(sessions, r.id)
    assert st.lease_owner is None and st.last_tick_at is not None
    [role] = st.status["roles"]
    assert role["ready"] == 200 and role["current"] == 0 and role["desired"] == quantity
    assert st.memory["roles"]["worker"]["scaler"]["model"] == "guvscale"
    with sessions() as s:
        assert s.execute(text("SELECT count(*) FROM role_samples")).scalar() == 1
