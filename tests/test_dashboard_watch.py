"""Graphs, their JSON data, the decision log and cost, from recorded samples and events."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from guvscale.settings import Settings
from tests.factories import add_tenant, record_event, record_samples, sso_fields


def sign_in(client: TestClient, resource: object, salt: str) -> None:
    r = client.post("/heroku/sso", data=sso_fields(resource, salt), follow_redirects=False)  # type: ignore[arg-type]
    assert r.status_code == 302


def minutes(n: int, **values: object) -> list[dict[str, object]]:
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    return [{"at": now - dt.timedelta(minutes=n - i), **values} for i in range(n)]


def test_graphs_draw_each_role_from_its_samples(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_tenant(sessions)
    rows = minutes(30, ready=5, unacked=2, publish_rate=1.5, ack_rate=1.0, current=2, desired=3)
    record_samples(sessions, resource, "emails", rows)
    record_event(sessions, resource, role="emails", reason="scaling up 2 → 3: backlog <7>")
    sign_in(client, resource, settings.sso_salt)
    r = client.get(f"/resources/{resource.id}/graphs?range=1h")
    assert r.status_code == 200
    assert "emails: messages in the queue" in r.text
    assert r.text.count('<svg class="chart"') == 3
    assert len(re.findall(r'<path class="series" d="M', r.text)) == 6
    assert "backlog &lt;7&gt;" in r.text  # the event's marker, escaped
    assert "now: 7 queued, 2 dynos" in r.text

    data = client.get(f"/resources/{resource.id}/graphs/data?range=1h").json()
    assert data["range"] == "1h"
    (series,) = data["roles"]
    assert series["role"] == "emails" and len(series["points"]) == 30
    assert series["points"][0][1:8] == [5, 2, None, 1.5, 1.0, 2, 3]
    assert data["events"][0]["to"] == 1


def test_24h_and_7d_read_rollups_and_the_newest_raw_polls(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_tenant(sessions)
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    old = [{"at": now - dt.timedelta(hours=20, minutes=i), "current": 4} for i in range(10)]
    record_samples(sessions, resource, "emails", old, table="1m")
    record_samples(sessions, resource, "emails", [{"at": now, "current": 1}])
    week = [{"at": now - dt.timedelta(days=5, minutes=10 * i), "current": 2} for i in range(6)]
    record_samples(sessions, resource, "emails", week, table="10m")
    sign_in(client, resource, settings.sso_salt)
    day = client.get(f"/resources/{resource.id}/graphs/data?range=24h").json()
    # Ten one-minute rollups fall in a few five-minute buckets; the newest raw poll follows.
    currents = [p[6] for p in day["roles"][0]["points"]]
    assert set(currents[:-1]) == {4} and 1 < len(currents) <= 4 and currents[-1] == 1
    seven = client.get(f"/resources/{resource.id}/graphs/data?range=7d").json()
    currents = [p[6] for p in seven["roles"][0]["points"]]
    assert set(currents[:-1]) == {2} and currents[-1] == 1


def test_graph_data_without_a_session_is_a_json_401(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    resource = add_tenant(sessions)
    r = client.get(f"/resources/{resource.id}/graphs/data")
    assert r.status_code == 401 and r.json()["id"] == "not_signed_in"


def test_graphs_without_samples_say_so(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_tenant(sessions)
    sign_in(client, resource, settings.sso_salt)
    r = client.get(f"/resources/{resource.id}/graphs")
    assert r.status_code == 200 and "Nothing recorded yet" in r.text


def test_decision_log_lists_changes_newest_first_with_errors_on_top(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_tenant(sessions)
    now = dt.datetime.now(dt.UTC)
    record_event(sessions, resource, at=now - dt.timedelta(minutes=5), reason="first change")
    record_event(
        sessions,
        resource,
        at=now - dt.timedelta(minutes=1),
        to_quantity=9,
        reason="second change",
        outcome="cannot_run_above_limit: limit is 5",
    )
    sign_in(client, resource, settings.sso_salt)
    r = client.get(f"/resources/{resource.id}/log")
    assert r.status_code == 200
    assert r.text.index("second change") < r.text.index("first change")
    alert = r.text.index("Needs your attention")
    assert alert < r.text.index("Decision log</h2>")
    assert "scaling to 9 failed: cannot_run_above_limit" in r.text


def test_cost_compares_with_the_maximum(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_tenant(sessions)
    record_samples(sessions, resource, "emails", minutes(60, current=1))
    sign_in(client, resource, settings.sso_salt)
    r = client.get(f"/resources/{resource.id}/cost?range=1h")
    assert r.status_code == 200
    assert "emails" in r.text and "standard-1x" in r.text
    # 1 dyno for ~1 h against a maximum of 1 (no rules: the highest seen).
    assert re.search(r"<td>0\.9\d</td>|<td>1\.00</td>", r.text)
