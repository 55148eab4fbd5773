"""One worker round against real RabbitMQ, the fake Heroku and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import event, text

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


def test_series_ids_are_kept_in_memory_so_later_ticks_ask_nothing_about_them(
    world: factories.WorkerWorld,
    broker: Broker,
) -> None:
    queue = broker.queue(messages=3)
    broker.wait_visible(queue, 3)
    r = world.tenant(factories.role_rules(queue), {"worker": 1})
    world.rounds()
    [series_id] = world.state(r.id).memory["series"].values()
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    engine = world.sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", note)
    try:
        world.rounds(later=30)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert not [s for s in seen if "role_series" in s], seen
    assert world.state(r.id).memory["series"] == {"worker": series_id}
    with world.sessions() as s:
        ids = s.execute(text("SELECT DISTINCT series_id FROM role_samples")).scalars().all()
    assert ids == [series_id]
