"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import Vault
from guvscale.db.models import (
    Credentials,
    ProvisionJob,
    ProvisionJobState,
    Resource,
    ResourceState,
    RulesVersion,
)
from guvscale.db.scoping import unscoped
from guvscale.rules.types import Role
from guvscale.scaling.types import Decision, Observation, Policy
from guvscale.services import web_sessions
from guvscale.services.config_vars import token_hash
from guvscale.web.auth import SESSION_LIFETIME_S

# -- h4: resources with a GUVSCALE_TOKEN, for the config API -------------------


@dataclass(frozen=True)
class Tenant:
    """A provisioned resource and the GUVSCALE_TOKEN that opens its config API."""

    id: str
    heroku_uuid: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def add_tenant(
    sessions: sessionmaker[Session],
    *,
    heroku_uuid: str | None = None,
    state: ResourceState = ResourceState.provisioned,
    plan: str = "basic",
    app_name: str = "acme-app",
) -> Tenant:
    token = secrets.token_urlsafe(32)
    heroku_uuid = heroku_uuid or str(uuid.uuid4())
    with sessions() as session:
        resource = Resource(
            heroku_uuid=heroku_uuid,
            name=f"{app_name}-guvscale",
            app_name=app_name,
            plan=plan,
            region="amazon-web-services::us-east-1",
            state=state,
            api_token_hash=token_hash(token),
        )
        session.add(resource)
        session.commit()
        return Tenant(id=resource.id, heroku_uuid=heroku_uuid, token=token)


def add_sealed_secrets(sessions: sessionmaker[Session], resource_id: str, vault: Vault) -> None:
    """Every kind of secret we store, sealed by `vault`: the credentials'
    five and a pending provision job's grant code."""
    with sessions.begin() as session:
        unscoped(session)
        session.add(
            Credentials(
                resource_id=resource_id,
                partner_access_token_enc=vault.encrypt(f"partner-access-{resource_id}"),
                partner_refresh_token_enc=vault.encrypt(f"partner-refresh-{resource_id}"),
                heroku_token_enc=vault.encrypt(f"owner-token-{resource_id}"),
                rabbitmq_url_enc=vault.encrypt(f"amqps://u:pw-{resource_id}@broker.example/u"),
                management_url_enc=vault.encrypt(f"https://u:pw-{resource_id}@mgmt.example"),
            )
        )
        session.add(
            ProvisionJob(
                resource_id=resource_id,
                state=ProvisionJobState.pending,
                grant_code_enc=vault.encrypt(f"grant-{resource_id}"),
                next_attempt_at=dt.datetime.now(dt.UTC),
            )
        )


# -- poisoned rows: values the database holds but the driver cannot read -----

# What `9999-12-31T23:59:59-14:00` and `0001-01-01T00:00:00+14:00` become in a
# timestamptz column (storable by PostgreSQL, outside Python's datetime), and a
# state no release knows.
POISONS: dict[str, tuple[str, str, str, str]] = {
    "expiry after year 9999": (
        "provision_jobs",
        "grant_expires_at",
        "timestamptz",
        "10000-01-01 13:59:59+00",
    ),
    "expiry before year 1": (
        "provision_jobs",
        "grant_expires_at",
        "timestamptz",
        "0001-12-31 10:00:00+00 BC",
    ),
    "unknown resource state": ("resources", "state", "varchar", "bogus"),
}


def poison(sessions: sessionmaker[Session], resource_id: str, kind: str) -> None:
    """Write one unreadable value for `resource_id` straight through SQL, as a bug,
    an old release or a hand edit could have left it."""
    table, column, sql_type, value = POISONS[kind]
    key = "id" if table == "resources" else "resource_id"
    # Names come from POISONS above, never from input.
    statement = f"UPDATE {table} SET {column} = CAST(:value AS {sql_type}) WHERE {key} = :rid"
    with sessions.begin() as session:
        session.execute(text(statement), {"value": value, "rid": resource_id})


# -- Heroku SSO ----------------------------------------------------------------


def sha1_hex(*parts: object) -> str:
    """Heroku's SSO token: sha1 hex of the parts joined by colons (v3:
    `uuid:salt:timestamp`; v1: `id:salt:timestamp`).

    Written here from the contract, not imported from guvscale.services.sso,
    so the tests sign as Heroku does and a slip in the production code shows up.
    """
    return hashlib.sha1(":".join(str(p) for p in parts).encode()).hexdigest()


def sso_v3_token(heroku_uuid: str, salt: str, ts: int | str) -> str:
    """Heroku's v3 `resource_token`."""
    return sha1_hex(heroku_uuid, salt, ts)


def sso_v3_form(heroku_uuid: str, salt: str, ts: int | None = None) -> dict[str, str]:
    """The form Heroku posts to sign a user in (v3: sha1 of uuid:salt:timestamp)."""
    ts = int(time.time()) if ts is None else ts
    return {
        "resource_id": heroku_uuid,
        "resource_token": sso_v3_token(heroku_uuid, salt, ts),
        "timestamp": str(ts),
        "email": "dev@example.com",
        "user_id": "7b3f0e4c-user",
        "app": "my-app",
    }


# -- settings for production checks ----------------------------------------------


def strong_production_values(**overrides: object) -> dict[str, object]:
    """Environment values production accepts; override one to make it weak."""
    values: dict[str, object] = {
        "guvscale_env": "production",
        "database_url": "postgres://u:p@db.example.com/guvscale",
        "secret_key": "k3J9-xQ2_vL8mN4pR7sT1wY6zA0bC5dE",  # 32 chars, varied
        "addon_password": "Zq8!vT3#mL6p",
        "sso_salt": "s4Lt-9fK2mQ7xW1b",
        "heroku_oauth_secret": "0f6c1c8e-4b7a-4e1d-9c3f-2a5b8d7e6f10",
        "encryption_keys": "x5iMsCcf6jFZL4Vq5E1KsG3Ay7oPfT2oGmXcV1hJb2k=",
        "public_url": "https://guvscale.example.com",
    }
    values.update(overrides)
    return values


def oauth_grant(**overrides: Any) -> dict[str, Any]:
    """An `oauth_grant` as Heroku sends it in a provision body, valid for five minutes."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    grant: dict[str, Any] = {
        "code": "grant-" + uuid.uuid4().hex,
        "expires_at": expires.isoformat(),
        "type": "authorization_code",
    }
    grant.update(overrides)
    return grant


def web_session(sessions: sessionmaker[Session], resource_id: str) -> str:
    """A live server-side session record for the resource; returns the cookie's session_id."""
    with sessions.begin() as db:
        return web_sessions.open_session(
            db, resource_id, now=dt.datetime.now(dt.UTC), lifetime_s=SESSION_LIFETIME_S
        )


# -- the worker's tenants (h5) ------------------------------------------------


LOCAL_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"


def tenant(
    session: Session,
    vault: Vault,
    *,
    rules: str | None,
    app: str = "acme-app",
    plan: str = "performance",
    token: str | None = "user-token",
    broker_url: str | None = LOCAL_BROKER,
    management_url: str | None = None,
    dry_run: bool = False,
    broker_source: str | None = None,
    app_id: str | None = None,
) -> Tenant:
    """A provisioned resource with rules and credentials, ready for the worker (committed).
    `broker_source` (e.g. "CLOUDAMQP_URL") and `app_id` as a credentials save would set them."""
    unscoped(session)
    api_token = secrets.token_urlsafe(32)
    resource = Resource(
        heroku_uuid=str(uuid.uuid4()),
        name=f"{app}-guvscale",
        app_name=app,
        plan=plan,
        region="amazon-web-services::us-east-1",
        state=ResourceState.provisioned,
        api_token_hash=token_hash(api_token),
        dry_run=dry_run,
    )
    session.add(resource)
    session.flush()
    session.add(
        Credentials(
            resource_id=resource.id,
            heroku_token_enc=vault.encrypt(token) if token else None,
            rabbitmq_url_enc=vault.encrypt(broker_url) if broker_url else None,
            management_url_enc=vault.encrypt(management_url) if management_url else None,
            heroku_app_name=app,
            heroku_app_id=app_id,
            broker_source=broker_source,
        )
    )
    if rules is not None:
        session.add(
            RulesVersion(
                resource_id=resource.id,
                version=1,
                yaml_text=rules,
                author="api",
                created_at=dt.datetime.now(dt.UTC),
            )
        )
    session.commit()
    return Tenant(id=resource.id, heroku_uuid=resource.heroku_uuid, token=api_token)


def role_rules(queue: str, worker: str = "worker", **keys: object) -> str:
    """Rules YAML for one role scaling `worker` from `queue`."""
    body = {"queue": queue, "minimum": 0, "maximum": 10, "processing": 1, "deadline": 60, **keys}
    lines = [f"{worker}:"] + [f"  {k}: {v}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


# --- h6: sign-in, samples and events (dashboard, browser and CLI tests) -------


class HasId(Protocol):
    @property
    def id(self) -> str: ...


class HasUuid(HasId, Protocol):
    @property
    def heroku_uuid(self) -> str: ...


def sso_fields(resource: HasUuid, salt: str, *, email: str = "dev@example.com") -> dict[str, str]:
    """Heroku's v3 SSO fields for `resource`, as its dashboard sends them."""
    ts = str(int(time.time()))
    return {
        "resource_id": resource.heroku_uuid,
        "resource_token": sso_v3_token(resource.heroku_uuid, salt, ts),
        "timestamp": ts,
        "email": email,
        "user_id": "7b3f0e4c-user",
        "app": "acme-app",
    }


def sso_link(base_url: str, resource: HasUuid, salt: str) -> str:
    """A GET sign-in link (what a browser test or `guvscale dev` opens)."""
    return f"{base_url}/heroku/sso?{urlencode(sso_fields(resource, salt))}"


def record_samples(
    sessions: sessionmaker[Session],
    resource: HasId,
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


def record_burst(
    sessions: sessionmaker[Session],
    resource: HasId,
    role: str,
    start: dt.datetime,
    count: int,
) -> None:
    """`count` raw samples of `role` a microsecond apart from `start` (ready 1), written
    by PostgreSQL itself: more in one minute than a rollup's int2 `samples` can count."""
    record_samples(sessions, resource, role, [{"at": start, "ready": 1}])
    with sessions.begin() as s:
        s.execute(
            text(
                "INSERT INTO role_samples (series_id, at, ready, partial) "
                "SELECT s.id, CAST(:start AS timestamptz) + n * interval '1 microsecond', 1, false "
                "FROM role_series s, generate_series(1, :more) n "
                "WHERE s.resource_id = :rid AND s.role = :role"
            ),
            {"start": start, "more": count - 1, "rid": resource.id, "role": role},
        )


def record_event(sessions: sessionmaker[Session], resource: HasId, **fields: object) -> None:
    """A scaling event; defaults: now, role 'worker', 0 -> 1, applied."""
    from guvscale.db.worker_models import ScalingEvent

    values: dict[str, object] = {
        "at": dt.datetime.now(dt.UTC),
        "role": "worker",
        "app": "acme-app",
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


# --- h9: the worker under test (tests/test_worker*.py) -------------------------


@dataclass(frozen=True)
class WorkerWorld:
    """What a worker test drives: the worker factory, the database and the fake Heroku."""

    make_worker: Any
    sessions: sessionmaker[Session]
    vault: Vault
    fake: Any  # tests.fake_heroku.fixtures.FakeHeroku

    def tenant(self, rules: str, formation: dict[str, Any], **kw: Any) -> Tenant:
        """A tenant on a fake app (default acme-app) with `formation`, token made unless given."""
        token = kw.pop("token", None) or self.fake.state.add_user_token()
        app = kw.pop("app", "acme-app")
        self.fake.state.add_app(app, formation)
        with self.sessions() as s:
            return tenant(s, self.vault, rules=rules, token=token, app=app, **kw)

    def rounds(self, count: int = 1, *, later: float = 0, **kw: Any) -> list[Any]:
        """`count` worker rounds 30 s apart, the first `later` seconds from now."""
        return worker_rounds(self.make_worker, count, later=later, **kw)

    def events(self) -> list[Any]:
        return scaling_events(self.sessions)

    def state(self, rid: str) -> Any:
        return worker_state(self.sessions, rid)

    def patches(self) -> list[Any]:
        return [r.json for r in self.fake.state.requests_to("PATCH")]

    def quantity(self, kind: str, app: str = "acme-app") -> int:
        return int(self.fake.state.apps[app].formation[kind].quantity)


def worker_rounds(make_worker: Any, count: int = 1, *, later: float = 0, **kw: Any) -> list[Any]:
    """`count` rounds of `make_worker(**kw)` 30 s apart, the first `later` seconds from now."""
    import asyncio

    from guvscale.clock import utcnow
    from guvscale.worker.run import Report, run_once

    async def go() -> list[Report]:
        async with make_worker(**kw) as w:
            start = utcnow() + dt.timedelta(seconds=later)
            return [await run_once(w, start + dt.timedelta(seconds=30 * i)) for i in range(count)]

    return asyncio.run(go())


def scaling_events(sessions: sessionmaker[Session]) -> list[Any]:
    """Every scaling event, oldest first."""
    from guvscale.db.worker_models import ScalingEvent

    with sessions() as s:
        unscoped(s)
        return list(s.scalars(select(ScalingEvent).order_by(ScalingEvent.id)))


def worker_state(sessions: sessionmaker[Session], rid: str) -> Any:
    """The tenant's tenant_worker_state row (lease, memory, status)."""
    from guvscale.db.worker_models import TenantWorkerState

    with sessions() as s:
        unscoped(s)
        return s.scalars(
            select(TenantWorkerState).where(TenantWorkerState.resource_id == rid)
        ).one()


def csrf_of(page: str) -> str:
    """The CSRF token a dashboard page's forms carry (the hidden `csrf` field)."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def scaling_role(**settings: Any) -> Role:
    """A role as the scaling model's tests build it, without rules: named "r",
    with a standard deviation of half the processing time unless given."""
    settings.setdefault("stddev", 0.5 * settings.get("processing", 10.0))
    return Role(name="r", worker="r", queue="r", **settings)


# --- the simulators' tests -----------------------------------------------------


def sim_role(**settings: Any) -> Role:
    """A role as the simulators' tests drive them: 1 s jobs one at a time,
    a 60 s deadline, 0 to 10 dynos booting in 30 s, polled every 30 s."""
    base: dict[str, Any] = dict(
        name="w",
        worker="w",
        queue="w",
        processing=1.0,
        stddev=0.5,
        deadline=60.0,
        concurrency=1,
        minimum=0,
        maximum=10,
        boot=30.0,
        pollinterval=30.0,
    )
    base.update(settings)
    return Role(**base)


class Scripted:
    """A policy answering `rule(obs)`; it records every observation."""

    def __init__(self, rule: Callable[[Observation], int]) -> None:
        self.rule = rule
        self.seen: list[Observation] = []

    def decide(self, obs: Observation) -> Decision:
        self.seen.append(obs)
        return Decision(self.rule(obs), "scripted")

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        pass


@dataclass
class Recording:
    """A policy passing every observation to `policy` and recording what it saw
    and answered."""

    policy: Policy
    seen: list[tuple[Observation, Decision]] = field(default_factory=list)

    def decide(self, obs: Observation) -> Decision:
        decision = self.policy.decide(obs)
        self.seen.append((obs, decision))
        return decision

    def state(self) -> dict[str, Any]:
        return self.policy.state()

    def restore(self, state: dict[str, Any]) -> None:
        self.policy.restore(state)


def erratic(wobble: int) -> Callable[[Observation], int]:
    """A scripted rule scaling 0-3 dynos at random (drawn from `wobble`) for
    10 minutes, killing busy dynos, then one dyno while work waits."""

    def rule(o: Observation) -> int:
        if o.t < 600:
            return (wobble >> int(o.t // 30) % 20) % 4
        return 1 if (o.messages or 0) else 0

    return rule
