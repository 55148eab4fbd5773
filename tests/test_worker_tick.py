"""One worker round against real RabbitMQ, the fake Heroku and PostgreSQL."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import event, text

from guvscale.worker.tenant import _copied, fresh, trusted_for
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


def test_a_ticks_memory_copy_leaves_the_claims_as_loaded_and_shares_only_scaler_states() -> None:
    scaler = {"log": [[1.0, 2.0, 3.0]], "rates": [1.0]}
    loaded = {
        "formation": {"app": {"types": {"worker": 1}, "read_at": 5.0}},
        "roles": {"worker": {"published": 10, "scaler": scaler}},
        "series": {"worker": 7},
    }
    copy = _copied(loaded)
    copy["formation"]["app"]["stale"] = True
    copy["roles"]["worker"]["published"] = 11
    copy["roles"]["worker"]["scaler"] = {"rates": [2.0]}  # replaced whole, as _decide does
    copy["series"]["other"] = 8

    assert loaded == {
        "formation": {"app": {"types": {"worker": 1}, "read_at": 5.0}},
        "roles": {
            "worker": {"published": 10, "scaler": {"log": [[1.0, 2.0, 3.0]], "rates": [1.0]}}
        },
        "series": {"worker": 7},
    }
    assert _copied(loaded)["roles"]["worker"]["scaler"] is scaler


@pytest.mark.parametrize(
    ("cached", "now", "expected"),
    [
        ({"read_at": 100.0, "ttl": 150.0}, 249.0, True),
        ({"read_at": 100.0, "ttl": 150.0}, 250.0, False),
        ({"read_at": 100.0, "ttl": 150.0, "stale": True}, 101.0, False),  # after our own PATCH
        ({"read_at": 100.0}, 279.0, True),  # saved before reads carried their own ttl
        ({"read_at": 100.0}, 280.0, False),
    ],
)
def test_a_formation_read_is_trusted_for_its_own_ttl(
    cached: dict[str, Any], now: float, expected: bool
) -> None:
    assert fresh(cached, now) is expected


def test_formation_ttls_spread_over_the_last_quarter_of_three_minutes() -> None:
    drawn = [trusted_for(random.Random(seed)) for seed in range(200)]
    assert 135.0 <= min(drawn) < 140.0 and 175.0 < max(drawn) <= 180.0
