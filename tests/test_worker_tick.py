"""One worker round against real RabbitMQ, the fake Heroku and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from tests import factories
from tests.rabbitmq_fixtures import Broker


def test_backlog_scales_up_with_one_batch_patch_and_records_it(
    world: factories.WorkerWorld,
    broker: Broker,
) -> None:
    queue = broker.queue(messages=200)
    broker.wait_visible(queue, 200)
    r = world.tenant(factories.role_rules(queue), {"web": 1, "worker": 0, "other": 2})

    [report] = world.rounds()

    st0 = world.state(r.id)
    assert report.claimed == 1 and report.saved == 1, st0.status
    assert world.patches(), str(st0.status["roles"])
    assert world.patches() == [{"updates": [{"type": "worker", "quantity": 10}]}] or (
        len(world.patches()) == 1
        and [u["type"] for u in world.patches()[0]["updates"]] == ["worker"]
    )
    quantity = world.fake.state.apps["acme-app"].formation["worker"].quantity
    assert quantity > 0
    [event] = world.events()
    assert (event.role, event.from_quantity, event.to_quantity) == ("worker", 0, quantity)
    assert event.outcome == "applied" and event.request_id
    st = world.state(r.id)
    assert st.lease_owner is None and st.last_tick_at is not None
    [role] = st.status["roles"]
    assert role["ready"] == 200 and role["current"] == 0 and role["desired"] == quantity
    assert st.memory["roles"]["worker"]["scaler"]["model"] == "guvscale"
    with world.sessions() as s:
        assert s.execute(text("SELECT count(*) FROM role_samples")).scalar() == 1
