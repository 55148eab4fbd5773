"""Asynchronous provisioning end to end: the partner API, the job runner and a fake
Heroku over real HTTP (id.heroku.com's token endpoint and api.heroku.com)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import Vault
from guvscale.db.models import (
    Credentials,
    ProvisionJob,
    ProvisionJobState,
    Resource,
    ResourceState,
)
from guvscale.db.scoping import unscoped
from guvscale.heroku.identity import HerokuIdentity
from guvscale.heroku.platform import HerokuPlatform
from guvscale.jobs import provisioning as runner
from guvscale.services.config_vars import ConfigIssuer
from guvscale.settings import Settings
from guvscale.web.app import create_app
from tests.factories import POISONS, poison
from tests.fake_heroku.fixtures import FakeHeroku
from tests.fake_heroku.state import FakeAddOn, FakeGrant
from tests.partner_helpers import headers, provision_body
from tests.web_fixtures import make_settings

RESOURCES = "/heroku/resources"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class World:
    """The app on the test database, pointed at the fake Heroku, and a runner's parts."""

    client: TestClient
    app: FastAPI
    fake: FakeHeroku
    sessions: sessionmaker[Session]
    identity: HerokuIdentity
    platform: HerokuPlatform
    vault: Vault
    issuer: ConfigIssuer

    def provision(self, **overrides: Any) -> tuple[FakeAddOn, FakeGrant, str]:
        """Heroku's side of an async provision, then its call to us; returns our id."""
        addon, grant = self.fake.state.start_provisioning()
        body = provision_body(uuid=addon.id, oauth_grant=grant.as_oauth_grant(), **overrides)
        r = self.client.post(RESOURCES, json=body, headers=headers())
        assert r.status_code == 202, r.text
        return addon, grant, r.json()["id"]

    def run(self, now: dt.datetime | None = None, platform: Any = None) -> int:
        return runner.run_once(
            self.sessions,
            self.identity,
            platform or self.platform,
            self.vault,
            self.issuer,
            now or utcnow(),
        )

    def job(self) -> ProvisionJob:
        with self.sessions() as db:
            return unscoped(db).scalars(select(ProvisionJob)).one()

    def resource(self, rid: str) -> Resource:
        with self.sessions() as db:
            found = unscoped(db).get(Resource, rid)
            assert found is not None
            return found

    def credentials(self, rid: str) -> Credentials | None:
        with self.sessions() as db:
            return (
                unscoped(db)
                .scalars(select(Credentials).where(Credentials.resource_id == rid))
                .one_or_none()
            )


def heroku_settings(database_url: str, fake: FakeHeroku) -> Settings:
    return make_settings(
        database_url=database_url, heroku_api_url=fake.api_url, heroku_id_url=fake.id_url
    )


@pytest.fixture
def world(
    database_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    fake_heroku: FakeHeroku,
) -> Iterator[World]:
    settings = heroku_settings(database_url, fake_heroku)
    app = create_app(settings, engine=engine, run_background=False)
    with httpx.Client(timeout=5.0) as http, TestClient(app) as client:
        yield World(
            client=client,
            app=app,
            fake=fake_heroku,
            sessions=sessions,
            identity=HerokuIdentity(http, fake_heroku.id_url, settings.heroku_oauth_secret),
            platform=HerokuPlatform(http, fake_heroku.api_url, "guvscale-tests"),
            vault=app.state.vault,
            issuer=ConfigIssuer(settings.secret_key, settings.public_url),
        )


def test_grant_exchanged_config_set_and_add_on_provisioned(world: World) -> None:
    addon, grant, rid = world.provision()
    assert world.resource(rid).state == ResourceState.provisioning

    assert world.run() == 1

    state = world.fake.state
    exchanges = state.requests_to("POST", "/oauth/token")
    assert len(exchanges) == 1
    assert exchanges[0].form == {
        "grant_type": "authorization_code",
        "code": grant.code,
        "client_secret": "test-oauth-secret",
    }
    patches = state.requests_to("PATCH", f"/addons/{addon.id}/config")
    assert len(patches) == 1 and patches[0].status == 200
    sent = {item["name"]: item["value"] for item in patches[0].json["config"]}
    assert sent == world.issuer.config_for(rid)
    assert set(sent) == {"GUVSCALE_ID", "GUVSCALE_TOKEN", "GUVSCALE_URL"}
    assert addon.config == sent
    assert addon.state == "provisioned" and addon.provision_calls == 1
    assert len(state.requests_to("POST", f"/addons/{addon.id}/actions/provision")) == 1

    assert world.resource(rid).state == ResourceState.provisioned
    job = world.job()
    assert job.state == ProvisionJobState.done
    assert job.grant_code_enc is None and job.last_error is None and job.attempts == 1

    creds = world.credentials(rid)
    assert creds is not None
    (access,) = state.partner_tokens(addon.id)
    refresh = next(iter(state.refresh_tokens))
    assert creds.partner_access_token_enc is not None
    assert creds.partner_refresh_token_enc is not None
    assert access.encode() not in creds.partner_access_token_enc
    assert refresh.encode() not in creds.partner_refresh_token_enc
    assert world.vault.decrypt(creds.partner_access_token_enc) == access
    assert world.vault.decrypt(creds.partner_refresh_token_enc) == refresh
    assert creds.partner_token_expires_at is not None
    assert creds.partner_token_expires_at > utcnow() + dt.timedelta(hours=7)

    # Nothing is left to do, and a repeated provision still answers 202 with the same id.
    assert world.run() == 0
    body = provision_body(uuid=addon.id, oauth_grant=grant.as_oauth_grant())
    again = world.client.post(RESOURCES, json=body, headers=headers())
    assert again.status_code == 202 and again.json()["id"] == rid


def test_failures_are_retried_with_backoff_reusing_the_tokens(world: World) -> None:
    addon, _, rid = world.provision()
    world.fake.state.fail_next(2, 503, path="/config")
    start = utcnow()

    assert world.run(start) == 1
    job = world.job()
    assert job.state == ProvisionJobState.pending and job.attempts == 1
    assert job.next_attempt_at == start + dt.timedelta(seconds=2)
    assert job.last_error is not None and "503" in job.last_error
    assert world.credentials(rid) is not None  # the grant is spent: its tokens were kept

    assert world.run(start + dt.timedelta(seconds=1)) == 0  # not due yet
    assert world.run(start + dt.timedelta(seconds=2)) == 1
    job = world.job()
    assert job.attempts == 2 and job.next_attempt_at == start + dt.timedelta(seconds=6)
    assert world.resource(rid).state == ResourceState.provisioning

    assert world.run(start + dt.timedelta(seconds=6)) == 1
    assert world.job().state == ProvisionJobState.done
    assert world.resource(rid).state == ResourceState.provisioned
    assert addon.state == "provisioned"
    # One exchange only: later attempts used the stored access token.
    assert len(world.fake.state.requests_to("POST", "/oauth/token")) == 1


def test_exchange_failures_are_retried_while_the_grant_lives(world: World) -> None:
    addon, _, rid = world.provision()
    world.fake.state.fail_next(3, 502, path="/oauth/token")
    start = utcnow()
    moments = [start, start + dt.timedelta(seconds=2), start + dt.timedelta(seconds=6)]
    for n, moment in enumerate(moments, 1):
        assert world.run(moment) == 1
        assert world.job().attempts == n
        assert world.job().state == ProvisionJobState.pending
    assert world.credentials(rid) is None
    assert world.run(start + dt.timedelta(seconds=14)) == 1
    assert world.resource(rid).state == ResourceState.provisioned
    assert addon.state == "provisioned"


def test_rate_limit_waits_at_least_retry_after(world: World) -> None:
    world.provision()
    world.fake.state.fail_next(1, 429, retry_after=90, path="/config")
    start = utcnow()
    world.run(start)
    assert world.job().next_attempt_at == start + dt.timedelta(seconds=90)


def test_an_expired_access_token_is_refreshed(world: World) -> None:
    addon, _, rid = world.provision()
    world.fake.state.fail_next(1, 503, path="/actions/provision")
    start = utcnow()
    world.run(start)
    later = start + dt.timedelta(hours=8)  # past the 28799 s lifetime
    world.fake.state.advance(8 * 3600)
    assert world.run(later) == 1
    grants = [r.form["grant_type"] for r in world.fake.state.requests_to("POST", "/oauth/token")]
    assert grants == ["authorization_code", "refresh_token"]
    assert world.resource(rid).state == ResourceState.provisioned
    creds = world.credentials(rid)
    assert creds is not None and creds.partner_access_token_enc is not None
    assert (
        world.vault.decrypt(creds.partner_access_token_enc)
        == (world.fake.state.partner_tokens(addon.id)[-1])
    )


def test_an_expired_grant_fails_the_job_and_the_add_on_stays_provisioning(
    world: World,
) -> None:
    _, grant, rid = world.provision()
    after_expiry = grant.expires_at + dt.timedelta(seconds=1)
    assert world.run(after_expiry) == 1
    job = world.job()
    assert job.state == ProvisionJobState.failed
    assert job.last_error is not None and "expired" in job.last_error
    assert job.grant_code_enc is None
    assert world.resource(rid).state == ResourceState.provisioning
    assert world.fake.state.requests_to("POST", "/oauth/token") == []
    assert world.run(after_expiry + dt.timedelta(hours=1)) == 0


def test_a_refused_grant_fails_the_job_at_once_with_the_reason(world: World) -> None:
    _, grant, rid = world.provision()
    world.fake.state.grants[grant.code].used = True  # Heroku will answer 401
    start = utcnow()
    assert world.run(start) == 1
    job = world.job()
    assert job.state == ProvisionJobState.failed and job.attempts == 1
    assert job.last_error is not None
    assert "refused the OAuth grant" in job.last_error and "401" in job.last_error
    assert "test-oauth-secret" not in job.last_error and grant.code not in job.last_error
    assert job.grant_code_enc is None
    assert world.run(start + dt.timedelta(minutes=10)) == 0  # no retries
    assert len(world.fake.state.requests_to("POST", "/oauth/token")) == 1
    assert world.resource(rid).state == ResourceState.provisioning


def test_a_refused_refresh_token_fails_the_job_and_a_fresh_grant_revives_it(
    world: World,
) -> None:
    addon, _, rid = world.provision()
    world.fake.state.fail_next(1, 503, path="/actions/provision")
    start = utcnow()
    world.run(start)  # tokens stored, provision failed
    (refresh,) = world.fake.state.refresh_tokens
    world.fake.state.revoke(refresh)  # the owner took the access back: refresh answers 401
    later = start + dt.timedelta(hours=8)
    world.fake.state.advance(8 * 3600)
    assert world.run(later) == 1
    job = world.job()
    assert job.state == ProvisionJobState.failed
    assert job.last_error is not None and "refused the refresh token" in job.last_error
    creds = world.credentials(rid)  # no dead tokens kept
    assert creds is not None and creds.partner_refresh_token_enc is None
    assert creds.partner_access_token_enc is None
    fresh = world.fake.state.add_grant(addon.id)
    body = provision_body(uuid=addon.id, oauth_grant=fresh.as_oauth_grant())
    assert world.client.post(RESOURCES, json=body, headers=headers()).status_code == 202
    assert world.run(later) == 1
    assert world.resource(rid).state == ResourceState.provisioned


def test_a_fresh_grant_from_a_repeated_provision_revives_the_job(world: World) -> None:
    addon, grant, rid = world.provision()
    world.run(grant.expires_at + dt.timedelta(seconds=1))
    assert world.job().state == ProvisionJobState.failed
    fresh = world.fake.state.add_grant(addon.id)
    body = provision_body(uuid=addon.id, oauth_grant=fresh.as_oauth_grant())
    assert world.client.post(RESOURCES, json=body, headers=headers()).status_code == 202
    assert world.job().state == ProvisionJobState.pending
    assert world.run() == 1
    assert world.resource(rid).state == ResourceState.provisioned


def test_deprovision_cancels_a_pending_job(world: World) -> None:
    addon, _, rid = world.provision()
    assert world.client.delete(f"{RESOURCES}/{rid}", headers=headers()).status_code == 204
    job = world.job()
    assert job.state == ProvisionJobState.failed and job.grant_code_enc is None
    assert world.run() == 0
    assert world.fake.state.requests == []
    assert addon.state == "provisioning"


class DeprovisionMidway:
    """A platform whose config call lets Heroku deprovision the add-on meanwhile."""

    def __init__(self, world: World, rid: str) -> None:
        self.world, self.rid = world, rid

    def set_addon_config(self, token: str, addon_id: str, config: Mapping[str, str | None]) -> Any:
        r = self.world.client.delete(f"{RESOURCES}/{self.rid}", headers=headers())
        assert r.status_code == 204  # not blocked by the job the runner holds
        return self.world.platform.set_addon_config(token, addon_id, config)

    def mark_provisioned(self, token: str, addon_id: str) -> Any:
        return self.world.platform.mark_provisioned(token, addon_id)


def test_deprovision_while_the_runner_works_wins(world: World) -> None:
    _, _, rid = world.provision()
    assert world.run(platform=DeprovisionMidway(world, rid)) == 1
    assert world.resource(rid).state == ResourceState.deprovisioned
    assert world.credentials(rid) is None  # no token kept
    job = world.job()
    assert job.state == ProvisionJobState.failed and job.last_error == runner.CANCELLED


class HeldPlatform:
    """A platform that holds the runner inside its first call until released."""

    def __init__(self, inner: HerokuPlatform) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def set_addon_config(self, token: str, addon_id: str, config: Mapping[str, str | None]) -> Any:
        self.entered.set()
        assert self.release.wait(30)
        return self.inner.set_addon_config(token, addon_id, config)

    def mark_provisioned(self, token: str, addon_id: str) -> Any:
        return self.inner.mark_provisioned(token, addon_id)


def test_two_runners_never_work_on_the_same_job(world: World) -> None:
    addon, _, rid = world.provision()
    held = HeldPlatform(world.platform)
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(world.run(platform=held)))
    first.start()
    try:
        assert held.entered.wait(30)
        assert world.run() == 0  # the job is locked: skipped, not waited for
    finally:
        held.release.set()
        first.join(30)
    assert results == [1]
    assert addon.provision_calls == 1
    assert len(world.fake.state.requests_to("POST", "/oauth/token")) == 1
    assert world.resource(rid).state == ResourceState.provisioned


def wait_until(predicate: Any, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_new_instance_finishes_a_job_the_old_one_left(
    database_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    fake_heroku: FakeHeroku,
) -> None:
    settings = heroku_settings(database_url, fake_heroku)
    addon, grant = fake_heroku.state.start_provisioning()
    body = provision_body(uuid=addon.id, oauth_grant=grant.as_oauth_grant())
    # The first instance takes the call and stops before its runner gets to it.
    with TestClient(create_app(settings, engine=engine, run_background=False)) as old:
        rid = old.post(RESOURCES, json=body, headers=headers()).json()["id"]

    def provisioned() -> bool:
        with sessions() as db:
            found = unscoped(db).get(Resource, rid)
            return found is not None and found.state == ResourceState.provisioned

    assert not provisioned()
    # The next instance runs its background runner, as in production.
    with TestClient(create_app(settings, engine=engine)) as new:
        assert new.get("/health").status_code == 200
        assert wait_until(provisioned)
    assert addon.state == "provisioned"
    assert addon.config["GUVSCALE_ID"] == rid


def test_backoff_doubles_caps_and_jitters() -> None:
    import random

    assert [runner.backoff(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert runner.backoff(30) == runner.MAX_DELAY
    rng = random.Random(7)
    for n in range(1, 12):
        full = runner.backoff(n)
        assert full / 2 <= runner.backoff(n, rng) <= full


# -- one bad row must not stop anyone else (issue 6, item 1) ----------------


def provision_tenants(world: World, n: int) -> list[tuple[FakeAddOn, FakeGrant, str]]:
    return [world.provision() for _ in range(n)]


def job_of(world: World, rid: str) -> tuple[ProvisionJobState, str | None]:
    # Columns only: the poisoned row's other columns cannot be read.
    with world.sessions() as db:
        state, error = (
            unscoped(db)
            .execute(
                select(ProvisionJob.state, ProvisionJob.last_error).where(
                    ProvisionJob.resource_id == rid
                )
            )
            .one()
        )
        return state, error


@pytest.mark.parametrize("kind", sorted(POISONS))
def test_a_poisoned_row_fails_its_job_and_every_other_tenant_is_provisioned(
    world: World, kind: str
) -> None:
    tenants = provision_tenants(world, 4)
    bad = tenants[1][2]  # not first, not last: jobs on both sides of it
    poison(world.sessions, bad, kind)

    assert world.run() == 4

    for addon, _, rid in tenants:
        if rid == bad:
            continue
        assert world.resource(rid).state == ResourceState.provisioned
        assert job_of(world, rid) == (ProvisionJobState.done, None)
        assert addon.state == "provisioned"
    state, error = job_of(world, bad)
    assert state == ProvisionJobState.failed
    assert error is not None and "cannot be read or processed" in error
    assert world.run() == 0  # the bad job is not tried again and again

    # Tenants that come later are provisioned too.
    addon, _, late = world.provision()
    assert world.run() == 1
    assert world.resource(late).state == ResourceState.provisioned


def test_a_poisoned_job_does_not_stop_the_polling_loop_either(
    database_url: str,
    engine: Engine,
    sessions: sessionmaker[Session],
    fake_heroku: FakeHeroku,
) -> None:
    settings = heroku_settings(database_url, fake_heroku)
    with TestClient(create_app(settings, engine=engine, run_background=False)) as first:
        rids = []
        for _ in range(3):
            addon, grant = fake_heroku.state.start_provisioning()
            body = provision_body(uuid=addon.id, oauth_grant=grant.as_oauth_grant())
            rids.append(first.post(RESOURCES, json=body, headers=headers()).json()["id"])
    poison(sessions, rids[0], "expiry after year 9999")

    def provisioned(rid: str) -> bool:
        with sessions() as db:
            state = unscoped(db).scalar(select(Resource.state).where(Resource.id == rid))
            return state == ResourceState.provisioned

    with TestClient(create_app(settings, engine=engine)):
        assert wait_until(lambda: all(provisioned(rid) for rid in rids[1:]))


@pytest.mark.parametrize("kind", ["expiry after year 9999", "expiry before year 1"])
def test_an_add_on_with_a_poisoned_job_answers_every_partner_call(world: World, kind: str) -> None:
    addon, grant, rid = world.provision()
    poison(world.sessions, rid, kind)
    world.run()
    assert job_of(world, rid)[0] == ProvisionJobState.failed

    # Heroku repeats the provision with its grant, never exchanged: the job is revived.
    body = provision_body(uuid=addon.id, oauth_grant=grant.as_oauth_grant())
    assert world.client.post(RESOURCES, json=body, headers=headers()).status_code == 202
    assert job_of(world, rid) == (ProvisionJobState.pending, None)
    assert world.run() == 1
    assert world.resource(rid).state == ResourceState.provisioned

    # Poisoned again, after the fact: plan change and deprovision still answer.
    poison(world.sessions, rid, kind)
    change = world.client.put(f"{RESOURCES}/{rid}", json={"plan": "test"}, headers=headers())
    assert change.status_code == 200
    assert world.client.post(RESOURCES, json=body, headers=headers()).status_code == 202
    assert world.client.delete(f"{RESOURCES}/{rid}", headers=headers()).status_code == 204
    assert world.resource(rid).state == ResourceState.deprovisioned


def test_deprovision_of_an_add_on_whose_pending_job_is_poisoned(world: World) -> None:
    _, _, rid = world.provision()
    poison(world.sessions, rid, "expiry after year 9999")
    assert world.client.delete(f"{RESOURCES}/{rid}", headers=headers()).status_code == 204
    assert job_of(world, rid) == (ProvisionJobState.failed, runner.CANCELLED)
    assert world.run() == 0


# -- a job state no release knows (a newer release wrote it, then a rollback) --

NEWER_STATE = "exchanging"  # no state this release knows


def write_job_state(world: World, rid: str, state: str) -> None:
    """Straight through SQL, as a newer release would have left it."""
    with world.sessions.begin() as db:
        db.execute(
            text("UPDATE provision_jobs SET state = :state WHERE resource_id = :rid"),
            {"state": state, "rid": rid},
        )


def stored_job_state(world: World, rid: str) -> str:
    with world.sessions() as db:
        return str(
            db.scalar(
                text("SELECT state FROM provision_jobs WHERE resource_id = :rid"), {"rid": rid}
            )
        )


def unknown_state_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "provision_jobs.state" in r.getMessage()
    ]


def test_a_job_state_no_release_knows_loads_as_unknown_and_the_runner_leaves_it(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    tenants = provision_tenants(world, 3)
    bad = tenants[1][2]  # jobs on both sides of it
    write_job_state(world, bad, NEWER_STATE)

    # The row loads, whole, with the explicit member, and says so in the log.
    with caplog.at_level(logging.WARNING, logger="guvscale.db.models"), world.sessions() as db:
        job = (
            unscoped(db).scalars(select(ProvisionJob).where(ProvisionJob.resource_id == bad)).one()
        )
    assert job.state == ProvisionJobState.unknown
    assert [NEWER_STATE in r.getMessage() for r in unknown_state_warnings(caplog)] == [True]

    # The runner finishes everyone else and skips it: not pending, so not its to end.
    assert world.run() == 2
    for addon, _, rid in tenants:
        if rid != bad:
            assert world.resource(rid).state == ResourceState.provisioned
            assert addon.state == "provisioned"
    assert world.resource(bad).state == ResourceState.provisioning
    assert stored_job_state(world, bad) == NEWER_STATE
    assert world.run() == 0

    # The member is only ever read: writing it is refused.
    good = tenants[0][2]
    with world.sessions() as db:
        row = unscoped(db).scalars(select(ProvisionJob).where(ProvisionJob.resource_id == good))
        row.one().state = ProvisionJobState.unknown
        with pytest.raises(StatementError, match="never stored"):
            db.commit()
    assert stored_job_state(world, good) == "done"


def test_partner_calls_for_an_add_on_whose_job_state_no_release_knows(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    addon, grant, rid = world.provision()
    write_job_state(world, rid, NEWER_STATE)

    # A repeated provision with a fresh grant answers as before (it used to be a 500)
    # and leaves the job to the release that knows its state.
    body = provision_body(uuid=addon.id, oauth_grant=grant.as_oauth_grant())
    with caplog.at_level(logging.WARNING):
        again = world.client.post(RESOURCES, json=body, headers=headers())
    assert again.status_code == 202, again.text
    assert again.json()["id"] == rid
    assert unknown_state_warnings(caplog)
    assert stored_job_state(world, rid) == NEWER_STATE
    assert world.run() == 0

    # Deprovision ends it like a pending job: cancelled, and no grant kept.
    assert world.client.delete(f"{RESOURCES}/{rid}", headers=headers()).status_code == 204
    assert job_of(world, rid) == (ProvisionJobState.failed, runner.CANCELLED)
    with world.sessions() as db:
        grant_left = db.scalar(
            text("SELECT grant_code_enc FROM provision_jobs WHERE resource_id = :rid"),
            {"rid": rid},
        )
    assert grant_left is None
    assert world.run() == 0
