"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
import uuid
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, ResourceState

# --- h6: tenants and their sign-in (dashboard, browser and CLI tests) ---------


def tenant(
    sessions: sessionmaker[Session],
    *,
    app_name: str = "acme-app",
    plan: str = "standard",
    name: str | None = None,
    api_token: str | None = None,
) -> Resource:
    """A provisioned resource; `api_token` (GUVSCALE_TOKEN) is stored as its hash."""
    with sessions.begin() as s:
        resource = Resource(
            heroku_uuid=str(uuid.uuid4()),
            name=name or f"{app_name}-guvscale-{secrets.token_hex(2)}",
            app_name=app_name,
            plan=plan,
            region="amazon-web-services::us-east-1",
            state=ResourceState.provisioned,
            api_token_hash=hashlib.sha256(api_token.encode()).hexdigest() if api_token else None,
        )
        s.add(resource)
    return resource


def sso_fields(resource: Resource, salt: str, *, email: str = "dev@example.com") -> dict[str, str]:
    """Heroku's v3 SSO fields for `resource`, as its dashboard sends them."""
    ts = str(int(time.time()))
    token = hashlib.sha1(f"{resource.heroku_uuid}:{salt}:{ts}".encode()).hexdigest()
    return {
        "resource_id": resource.heroku_uuid,
        "resource_token": token,
        "timestamp": ts,
        "email": email,
        "user_id": "7b3f0e4c-user",
        "app": resource.app_name or "",
    }


def sso_link(base_url: str, resource: Resource, salt: str) -> str:
    """A GET sign-in link (what a browser test or `guvscale dev` opens)."""
    return f"{base_url}/heroku/sso?{urlencode(sso_fields(resource, salt))}"


def record_samples(
    sessions: sessionmaker[Session],
    resource: Resource,
    role: str,
    rows: list[dict[str, object]],
    *,
    table: str = "raw",
) -> None:
    """Samples as the worker stores them: `rows` hold `at` (aware datetime) and any of
    ready, unacked, consumers, publish_rate, ack_rate, current, desired, partial.
    `table`: "raw", "1m" or "10m" (rollups also get `samples` and `ready_max`)."""
    from guvscale.db.scoping import scope_to
    from guvscale.db.worker_models import (
        RoleSample,
        RoleSampleMinute,
        RoleSampleTenMinutes,
        RoleSeries,
    )
    from guvscale.records.partitions import maintain

    kind = {"raw": RoleSample, "1m": RoleSampleMinute, "10m": RoleSampleTenMinutes}[table]
    times = [r["at"] for r in rows if isinstance(r["at"], dt.datetime)]
    step = dt.timedelta(hours=1 if table == "raw" else 24)
    with sessions.begin() as s:
        # maintain() makes the partitions around its `now`: walk it over the rows' span.
        moment = min(times)
        while moment < max(times) + step:
            maintain(s.connection(), moment)
            moment += step
    with sessions.begin() as s:
        scope_to(s, resource.id)
        series = s.scalars(select(RoleSeries).where(RoleSeries.role == role)).first()
        if series is None:
            series = RoleSeries(resource_id=resource.id, role=role)
            s.add(series)
            s.flush()
        for r in rows:
            extra = {"samples": 1, "ready_max": r.get("ready")} if table != "raw" else {}
            s.add(kind(series_id=series.id, **extra, **r))


def record_event(sessions: sessionmaker[Session], resource: Resource, **fields: object) -> None:
    """A scaling event; defaults: now, role 'worker', 0 -> 1, applied."""
    from guvscale.db.worker_models import ScalingEvent

    values: dict[str, object] = {
        "at": dt.datetime.now(dt.UTC),
        "role": "worker",
        "app": resource.app_name or "acme-app",
        "process_type": fields.get("role", "worker"),
        "from_quantity": 0,
        "to_quantity": 1,
        "reason": "scaling up 0 → 1: backlog 10",
        "request_id": "req-" + secrets.token_hex(4),
        "outcome": "applied",
    }
    values.update(fields)
    with sessions.begin() as s:
        s.add(ScalingEvent(resource_id=resource.id, **values))
