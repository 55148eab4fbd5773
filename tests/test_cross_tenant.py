"""No route shows or changes another tenant's data: every route, pages and JSON.

Tenant A has rules, samples, events and credentials; tenant B is signed in
(and holds B's GUVSCALE_TOKEN) and tries every route of the app on A's id.
The list of routes comes from the app itself, so a new route under
/resources/ or /config/ without a case here fails the test.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, ResourceState, RulesVersion
from guvscale.db.scoping import unscoped
from guvscale.settings import Settings
from tests.factories import (
    Tenant,
    add_tenant,
    csrf_of,
    record_event,
    record_samples,
    sso_fields,
)
from tests.partner_helpers import headers

A_RULES = "secretrole:\n  queue: secret-queue-of-a\n  deadline: 120\n"
A_MARKERS = ("secret-queue-of-a", "secretrole", "reason-of-a", "tenant-a-app")
B_RULES = "other:\n  queue: b-queue\n"

# What each tenant-bound route is sent: form fields, or a JSON body.
FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/resources/{resource_id}/rules"): {"rules": B_RULES},
    ("POST", "/resources/{resource_id}/rules/preview"): {"rules": B_RULES},
    ("POST", "/resources/{resource_id}/rules/versions/{number}/restore"): {},
    ("POST", "/resources/{resource_id}/dry-run"): {"dry_run": "on"},
    ("POST", "/resources/{resource_id}/setup"): {"heroku_token": "b" * 20},
}
JSON: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/resources/{resource_id}/rules/check"): {"rules": A_RULES},
    ("POST", "/config/{id}"): {"config": B_RULES},
    ("PUT", "/config/{id}/credentials"): {"herokuToken": "b" * 20},
    ("PUT", "/config/{id}/dry-run"): {"dryRun": True},
}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (FastAPI >= 0.16x wraps them;
    app.py includes them without a prefix, so their paths are whole)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            out.extend(api_routes(route.original_router.routes))
    return out


def tenant_routes(app: FastAPI) -> list[tuple[str, str]]:
    found = []
    for route in api_routes(app.routes):
        if "{resource_id}" in route.path or route.path.startswith("/config/{id}"):
            found.extend((method, route.path) for method in sorted(route.methods))
    return found


def fill(path: str, resource_id: str) -> str:
    path = path.replace("{resource_id}", resource_id).replace("{id}", resource_id)
    return re.sub(r"\{number\}", "1", path)


def a_with_data(sessions: sessionmaker[Session]) -> Tenant:
    a = add_tenant(sessions, app_name="tenant-a-app")
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as s:
        s.add(
            RulesVersion(
                resource_id=a.id, version=1, yaml_text=A_RULES, author="a@x", created_at=now
            )
        )
    record_samples(sessions, a, "secretrole", [{"at": now, "ready": 7, "current": 1}])
    record_event(sessions, a, role="secretrole", reason="reason-of-a")
    return a


def test_every_tenant_route_refuses_another_tenants_session_and_token(
    app: FastAPI, client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    a = a_with_data(sessions)
    b = add_tenant(sessions, app_name="tenant-b-app")
    r = client.post("/heroku/sso", data=sso_fields(b, settings.sso_salt), follow_redirects=False)
    assert r.status_code == 302
    token = csrf_of(client.get(f"/resources/{b.id}/rules").text)

    routes = tenant_routes(app)
    # The walk finds the dashboard's pages and JSON, and the config API.
    assert {("GET", "/resources/{resource_id}/graphs/data"), ("GET", "/config/{id}")} <= set(routes)
    assert set(FORMS) | set(JSON) <= set(routes)
    for method, path in routes:
        url = fill(path, a.id)
        kwargs: dict[str, object] = {"headers": {**b.auth, "X-CSRF-Token": token}}
        if (method, path) in FORMS:
            kwargs = {"data": {**FORMS[(method, path)], "csrf": token}, "headers": b.auth}
        elif (method, path) in JSON:
            kwargs["json"] = JSON[(method, path)]
        else:
            assert method == "GET", f"no case for {method} {path}: add one to FORMS or JSON"
        r = client.request(method, url, follow_redirects=False, **kwargs)  # type: ignore[arg-type]
        assert r.status_code in (401, 403, 404), (method, path, r.status_code)
        for marker in A_MARKERS:
            assert marker not in r.text, (method, path, marker)

    # Nothing of A's changed; and B's own pages still work (B was not signed out).
    with sessions() as s:
        unscoped(s)
        texts = [v.yaml_text for v in s.query(RulesVersion).filter_by(resource_id=a.id)]
        resource = s.get(Resource, a.id)
        assert resource is not None
        assert texts == [A_RULES] and not resource.dry_run
    page = client.get(f"/resources/{b.id}/graphs")
    assert page.status_code == 200
    assert not any(marker in page.text for marker in A_MARKERS)


def test_a_tenants_own_session_reaches_every_page(
    app: FastAPI, client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    # The other side of the test above: the refusals are about the tenant, not the route.
    a = a_with_data(sessions)
    client.post("/heroku/sso", data=sso_fields(a, settings.sso_salt), follow_redirects=False)
    for method, path in tenant_routes(app):
        if method == "GET" and path.startswith("/resources/"):
            r = client.get(fill(path, a.id))
            assert r.status_code == 200, path


def test_sessions_end_on_deprovision(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    a = a_with_data(sessions)
    client.post("/heroku/sso", data=sso_fields(a, settings.sso_salt), follow_redirects=False)
    assert client.get(f"/resources/{a.id}/rules").status_code == 200
    r = client.delete(f"/heroku/resources/{a.heroku_uuid}", headers=headers())
    assert r.status_code == 204
    for path in ("", "/rules", "/graphs/data", "/log"):
        r = client.get(f"/resources/{a.id}{path}")
        assert r.status_code in (401, 403), path
        assert "secret-queue-of-a" not in r.text
    with sessions() as s:
        resource = s.get(Resource, a.id)
        assert resource is not None and resource.state == ResourceState.deprovisioned
    # The session was ended, not only refused: the cookie no longer signs anyone in.
    assert client.get(f"/resources/{a.id}").status_code == 401
