"""The partner API on real PostgreSQL: provision, deprovision, plan change, auth."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import (
    Credentials,
    ProvisionJob,
    ProvisionJobState,
    Resource,
    ResourceState,
)
from guvscale.db.scoping import unscoped
from guvscale.services.config_vars import ConfigIssuer, token_hash
from guvscale.services.fields import OUR_ID_PATTERN
from guvscale.settings import Settings
from tests.partner_helpers import basic, count, counts, headers, provision_body

RESOURCES = "/heroku/resources"


def resource_by_uuid(db: Session, addon_uuid: str) -> Resource:
    unscoped(db)
    db.expire_all()
    return db.scalars(select(Resource).where(Resource.heroku_uuid == addon_uuid)).one()


# --- provision -------------------------------------------------------------------


def test_provision_answers_config_synchronously(
    client: TestClient, db: Session, settings: Settings
) -> None:
    body = provision_body()
    r = client.post(RESOURCES, json=body, headers=headers())
    assert r.status_code == 201
    answer = r.json()
    assert set(answer) == {"id", "config", "message"}
    assert set(answer["config"]) == {"GUVSCALE_ID", "GUVSCALE_TOKEN", "GUVSCALE_URL"}
    assert answer["config"]["GUVSCALE_ID"] == answer["id"]
    assert answer["config"]["GUVSCALE_URL"] == "http://testserver"
    assert "12345" not in answer["id"]  # never derived from Heroku's ids

    resource = resource_by_uuid(db, body["uuid"])
    assert resource.id == answer["id"]
    assert resource.state == ResourceState.provisioned
    assert resource.plan == "basic"
    assert resource.region == "amazon-web-services::us-east-1"
    assert resource.name == "acme-guvscale-12345"
    token = answer["config"]["GUVSCALE_TOKEN"]
    assert len(token) >= 43
    assert resource.api_token_hash == token_hash(token)
    assert token not in (resource.api_token_hash or "")
    assert count(db, ProvisionJob) == 0


def test_repeated_provision_returns_the_same_resource_and_answer(
    client: TestClient, db: Session
) -> None:
    body = provision_body()
    first = client.post(RESOURCES, json=body, headers=headers())
    second = client.post(RESOURCES, json=body, headers=headers())
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    assert count(db, Resource) == 1


def test_concurrent_repeats_make_one_resource(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    body = provision_body()
    answers: list[Any] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        answers.append(client.post(RESOURCES, json=body, headers=headers()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert len({a.json()["config"]["GUVSCALE_TOKEN"] for a in answers}) == 1
    with sessions() as db:
        assert count(db, Resource) == 1


def test_kensa_style_body_without_grant_is_accepted(client: TestClient, db: Session) -> None:
    body = {
        "heroku_id": "app123@kensa.heroku.com",
        "plan": "test",
        "region": "us",
        "callback_url": "http://localhost:7779/callback/999",
        "logplex_token": "t.abc",
        "options": {},
        "uuid": "01234567-89ab-cdef-0123-456789abcdef",
        "oauth_grant": None,
    }
    r = client.post(RESOURCES, json=body, headers=headers())
    assert r.status_code == 201
    # Our own id, not one made from the app's name: "123" alone was in a
    # random id (gvs-e417caf123236769) about once in 250 runs.
    assert re.fullmatch(OUR_ID_PATTERN, r.json()["id"])
    assert "app123" not in r.json()["id"]
    resource = resource_by_uuid(db, body["uuid"])
    assert resource.region == "amazon-web-services::us-east-1"
    assert resource.plan == "test"


@pytest.mark.parametrize(
    "region, stored",
    [
        ("amazon-web-services::eu-west-1", "amazon-web-services::eu-west-1"),
        ("eu", "amazon-web-services::eu-west-1"),
        ("tokyo", "amazon-web-services::ap-northeast-1"),
        ("amazon-web-services::ap-southeast-2", "amazon-web-services::ap-southeast-2"),
    ],
)
def test_regions_in_either_form(client: TestClient, db: Session, region: str, stored: str) -> None:
    body = provision_body(region=region)
    assert client.post(RESOURCES, json=body, headers=headers()).status_code == 201
    assert resource_by_uuid(db, body["uuid"]).region == stored


def test_provision_with_grant_answers_202_and_keeps_a_job(
    client: TestClient, db: Session, app: Any
) -> None:
    grant = {
        "code": "grant-code-not-to-be-stored-in-clear",
        "expires_at": "2030-03-03T18:01:31-0800",
        "type": "authorization_code",
    }
    body = provision_body(oauth_grant=grant)
    r = client.post(RESOURCES, json=body, headers=headers())
    assert r.status_code == 202
    assert set(r.json()) == {"id", "message"}
    resource = resource_by_uuid(db, body["uuid"])
    assert resource.state == ResourceState.provisioning
    job = db.scalars(select(ProvisionJob)).one()
    assert job.resource_id == resource.id
    assert job.state == ProvisionJobState.pending
    assert job.attempts == 0
    assert job.grant_code_enc is not None
    assert b"grant-code-not" not in job.grant_code_enc
    assert app.state.vault.decrypt(job.grant_code_enc) == grant["code"]
    assert job.grant_expires_at is not None
    assert job.grant_expires_at.isoformat() == "2030-03-04T02:01:31+00:00"

    again = client.post(RESOURCES, json=body, headers=headers())
    assert again.status_code == 202
    assert again.json() == r.json()
    assert counts(db) == (1, 1, 0)


def test_repeat_of_a_deprovisioned_uuid_is_refused(client: TestClient, db: Session) -> None:
    body = provision_body()
    rid = client.post(RESOURCES, json=body, headers=headers()).json()["id"]
    assert client.delete(f"{RESOURCES}/{rid}", headers=headers()).status_code == 204
    r = client.post(RESOURCES, json=body, headers=headers())
    assert r.status_code == 422
    assert "deprovisioned" in r.json()["message"]
    assert count(db, Resource) == 1


def test_token_hash_follows_a_new_secret_key(
    client: TestClient, db: Session, settings: Settings
) -> None:
    body = provision_body()
    first = client.post(RESOURCES, json=body, headers=headers()).json()
    rotated = ConfigIssuer("another-secret-key", settings.public_url)
    new_token = rotated.token_for(first["id"])
    assert new_token != first["config"]["GUVSCALE_TOKEN"]
    client.app.state.settings = settings.model_copy(update={"secret_key": "another-secret-key"})  # type: ignore[attr-defined]
    again = client.post(RESOURCES, json=body, headers=headers()).json()
    assert again["config"]["GUVSCALE_TOKEN"] == new_token
    assert resource_by_uuid(db, body["uuid"]).api_token_hash == token_hash(new_token)


# --- auth ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(user="someone-else"),
        basic(password="wrong-password"),
        basic(password=""),
        "Basic not-base64!!",
        "Bearer test-addon-password",
        "Basic " + "Z3V2c2NhbGU=",  # "guvscale" with no colon
    ],
    ids=[
        "missing",
        "wrong-user",
        "wrong-password",
        "empty-password",
        "garbage",
        "bearer",
        "no-colon",
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_partner_calls_need_the_manifest_credentials(
    client: TestClient, db: Session, authorization: str | None, method: str
) -> None:
    h = headers()
    if authorization is None:
        del h["Authorization"]
    else:
        h["Authorization"] = authorization
    path = RESOURCES if method == "POST" else f"{RESOURCES}/gvs-0000000000000000"
    r = client.request(method, path, json=provision_body(), headers=h)
    assert r.status_code == 401
    assert r.json()["id"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Basic")
    assert "password" not in r.text.lower().replace("credentials missing or wrong", "")
    assert counts(db) == (0, 0, 0)


def test_auth_is_checked_before_the_body(client: TestClient) -> None:
    h = headers()
    del h["Authorization"]
    r = client.post(RESOURCES, content=b"{not json", headers=h)
    assert r.status_code == 401


# --- deprovision -----------------------------------------------------------------


def test_deprovision_keeps_no_secret_and_repeats_answer_204(
    client: TestClient, db: Session
) -> None:
    grant = {"code": "c0de", "expires_at": "2030-01-01T00:00:00Z"}
    body = provision_body(oauth_grant=grant)
    rid = client.post(RESOURCES, json=body, headers=headers()).json()["id"]
    unscoped(db)
    db.add(Credentials(resource_id=rid, partner_access_token_enc=b"x", heroku_token_enc=b"y"))
    db.commit()

    r = client.delete(f"{RESOURCES}/{rid}", headers=headers())
    assert r.status_code == 204
    assert r.content == b""
    resource = resource_by_uuid(db, body["uuid"])
    assert resource.state == ResourceState.deprovisioned
    assert resource.deprovisioned_at is not None
    assert resource.api_token_hash is None
    assert count(db, Credentials) == 0
    job = db.scalars(select(ProvisionJob)).one()
    assert job.state == ProvisionJobState.failed
    assert job.grant_code_enc is None
    assert job.last_error is not None and "cancelled" in job.last_error

    first_at = resource.deprovisioned_at
    # By our id again, and by Heroku's uuid: both are repeats of the same call.
    assert client.delete(f"{RESOURCES}/{rid}", headers=headers()).status_code == 204
    assert client.delete(f"{RESOURCES}/{body['uuid']}", headers=headers()).status_code == 204
    assert resource_by_uuid(db, body["uuid"]).deprovisioned_at == first_at
    assert count(db, Resource) == 1


def test_deprovision_by_heroku_uuid(client: TestClient, db: Session) -> None:
    body = provision_body()
    client.post(RESOURCES, json=body, headers=headers())
    assert client.delete(f"{RESOURCES}/{body['uuid']}", headers=headers()).status_code == 204
    assert resource_by_uuid(db, body["uuid"]).state == ResourceState.deprovisioned


@pytest.mark.parametrize(
    "ident", ["gvs-0000000000000000", "01234567-89ab-cdef-0123-456789abcdef", "x" * 300, "%00"]
)
def test_deprovision_of_an_id_never_seen_is_404(client: TestClient, ident: str) -> None:
    r = client.delete(f"{RESOURCES}/{ident}", headers=headers())
    assert r.status_code == 404
    assert r.json()["id"] == "not_found"
    assert "no add-on with id" in r.json()["message"]


# --- plan change -----------------------------------------------------------------


def test_plan_change_answers_config_and_message(client: TestClient, db: Session) -> None:
    body = provision_body(plan="test")
    first = client.post(RESOURCES, json=body, headers=headers()).json()
    r = client.put(
        f"{RESOURCES}/{first['id']}",
        json={"plan": "performance", "heroku_id": "x"},
        headers=headers(),
    )
    assert r.status_code == 200
    assert set(r.json()) == {"config", "message"}
    assert r.json()["config"] == first["config"]
    assert "performance" in r.json()["message"]
    assert resource_by_uuid(db, body["uuid"]).plan == "performance"
    # Heroku's uuid names it too.
    r = client.put(f"{RESOURCES}/{body['uuid']}", json={"plan": "standard"}, headers=headers())
    assert r.status_code == 200
    assert resource_by_uuid(db, body["uuid"]).plan == "standard"


def test_plan_change_to_an_unknown_plan_is_422(client: TestClient, db: Session) -> None:
    body = provision_body(plan="basic")
    rid = client.post(RESOURCES, json=body, headers=headers()).json()["id"]
    r = client.put(f"{RESOURCES}/{rid}", json={"plan": "platinum"}, headers=headers())
    assert r.status_code == 422
    assert "platinum" in r.json()["message"] and "standard" in r.json()["message"]
    assert resource_by_uuid(db, body["uuid"]).plan == "basic"


def test_plan_change_of_unknown_or_deprovisioned_add_on(client: TestClient, db: Session) -> None:
    r = client.put(f"{RESOURCES}/gvs-0000000000000000", json={"plan": "basic"}, headers=headers())
    assert r.status_code == 404
    body = provision_body(plan="test")
    rid = client.post(RESOURCES, json=body, headers=headers()).json()["id"]
    client.delete(f"{RESOURCES}/{rid}", headers=headers())
    r = client.put(f"{RESOURCES}/{rid}", json={"plan": "basic"}, headers=headers())
    assert r.status_code == 422
    assert "deprovisioned" in r.json()["message"]
    assert resource_by_uuid(db, body["uuid"]).plan == "test"
