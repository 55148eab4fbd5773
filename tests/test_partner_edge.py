"""Issue 6 at the partner API's edge: values the database could not hold or read
back, uuids that could pass for our ids, and ambiguous JSON are refused with a
clear 4xx and nothing stored; a stored state no release knows is answered too."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Credentials, ProvisionJob, Resource, ResourceState
from guvscale.db.scoping import unscoped
from tests.factories import Tenant, add_tenant, oauth_grant, poison, tenant
from tests.partner_helpers import count, counts, headers, provision_body

RESOURCES = "/heroku/resources"


def refused(r: Any, status: int, *named: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    for word in named:
        assert word in body["message"], body
    return body


# --- item 1: dates the database cannot store or read back ---------------------

UNSTORABLE = [
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
]


@pytest.mark.parametrize("expires_at", UNSTORABLE)
def test_grant_expiry_outside_the_storable_range_is_422(
    client: TestClient, db: Session, expires_at: str
) -> None:
    body = provision_body(oauth_grant=oauth_grant(expires_at=expires_at))
    r = client.post(RESOURCES, json=body, headers=headers())
    answer = refused(r, 422, "oauth_grant.expires_at", "between")
    assert answer["where"] == "body.oauth_grant.expires_at"
    assert counts(db) == (0, 0, 0)
    # The resource it would have made still reads back, as does every other.
    assert client.delete(f"{RESOURCES}/{body['uuid']}", headers=headers()).status_code == 404


def test_a_repeat_with_an_unstorable_grant_is_refused_and_changes_nothing(
    client: TestClient, db: Session
) -> None:
    body = provision_body(oauth_grant=oauth_grant())
    assert client.post(RESOURCES, json=body, headers=headers()).status_code == 202
    body["oauth_grant"] = oauth_grant(expires_at="9999-12-31T23:59:59-14:00")
    refused(client.post(RESOURCES, json=body, headers=headers()), 422, "expires_at")
    unscoped(db)
    job = db.scalars(select(ProvisionJob)).one()
    assert job.grant_expires_at is not None and job.grant_expires_at.year < 3000
    assert client.delete(f"{RESOURCES}/{body['uuid']}", headers=headers()).status_code == 204


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    "expires_at, instant",
    [
        ("2031-06-01T12:00:00+13:45", utc(2031, 5, 31, 22, 15)),
        ("2031-06-01T12:00:00-23:59", utc(2031, 6, 2, 11, 59)),
        ("2031-06-01T12:00:00", utc(2031, 6, 1, 12)),
        ("2031-06-01T12:00:00-0800", utc(2031, 6, 1, 20)),  # Heroku's form: no colon
    ],
)
def test_odd_but_storable_offsets_are_stored_as_the_same_instant(
    client: TestClient, db: Session, expires_at: str, instant: dt.datetime
) -> None:
    body = provision_body(oauth_grant=oauth_grant(expires_at=expires_at))
    assert client.post(RESOURCES, json=body, headers=headers()).status_code == 202
    unscoped(db)
    assert db.scalars(select(ProvisionJob.grant_expires_at)).one() == instant


@pytest.mark.parametrize(
    "expires_at", [1_900_000_000, "1900000000", "2031-06-01", "2031-06-01T12:00:00Z\n", True]
)
def test_grant_expiry_must_be_a_date_and_time_text(
    client: TestClient, db: Session, expires_at: object
) -> None:
    # pydantic alone reads numbers as unix seconds and a bare date as midnight.
    body = provision_body(oauth_grant=oauth_grant(expires_at=expires_at))
    r = client.post(RESOURCES, json=body, headers=headers())
    refused(r, 422, "oauth_grant.expires_at", "ISO 8601")
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize("region", ["to\u212ayo", "\u2003eu", "eu\u00a0", "e\u0301u"])
def test_regions_are_read_in_ascii_only(client: TestClient, db: Session, region: str) -> None:
    # str.lower() turns the Kelvin sign into "k"; strip() takes Unicode spaces.
    r = client.post(RESOURCES, json=provision_body(region=region), headers=headers())
    refused(r, 422, "unknown region")
    assert counts(db) == (0, 0, 0)


# --- item 4: only a UUID is a Heroku uuid; lookups are unambiguous -------------


@pytest.mark.parametrize(
    "value",
    ["   ", "../../etc", "a/b?c#d", "gvs-0123456789abcdef", "not-a-uuid", "x" * 36],
)
def test_uuid_must_be_a_uuid(client: TestClient, db: Session, value: str) -> None:
    r = client.post(RESOURCES, json=provision_body(uuid=value), headers=headers())
    body = refused(r, 422, "uuid")
    assert body["where"] == "body.uuid"
    assert counts(db) == (0, 0, 0)


def test_a_uuid_equal_to_our_id_cannot_collide(client: TestClient, db: Session) -> None:
    first = client.post(RESOURCES, json=provision_body(), headers=headers()).json()["id"]
    r = client.post(RESOURCES, json=provision_body(uuid=first), headers=headers())
    refused(r, 422, "uuid")
    assert counts(db) == (1, 0, 0)
    path = f"{RESOURCES}/{first}"
    assert client.put(path, json={"plan": "test"}, headers=headers()).status_code == 200
    assert client.delete(path, headers=headers()).status_code == 204


def test_the_uuid_is_stored_canonically_and_found_in_any_case(
    client: TestClient, db: Session
) -> None:
    addon = uuid.uuid4()
    body = provision_body(uuid=str(addon).upper())
    rid = client.post(RESOURCES, json=body, headers=headers()).json()["id"]
    unscoped(db)
    assert db.scalars(select(Resource.heroku_uuid)).one() == str(addon)
    again = client.post(RESOURCES, json=provision_body(uuid=str(addon)), headers=headers())
    assert again.status_code == 200 and again.json()["id"] == rid
    path = f"{RESOURCES}/{str(addon).upper()}"
    assert client.put(path, json={"plan": "test"}, headers=headers()).status_code == 200


@pytest.mark.parametrize(
    "ident", ["gvs-", "gvs-../x", "   ", "GVS-0123456789abcdef", "gvs-" + "0" * 70]
)
def test_ids_of_neither_shape_are_404(client: TestClient, ident: str) -> None:
    client.post(RESOURCES, json=provision_body(), headers=headers())
    refused(client.delete(f"{RESOURCES}/{ident}", headers=headers()), 404)


# --- item 10: ambiguous JSON ------------------------------------------------


@pytest.mark.parametrize(
    "raw, key",
    [
        (b'{"plan":"nope","plan":"test"}', "plan"),
        (b'{"plan":"test","region":"us","region":"eu","uuid":"%s"}', "region"),
        (
            b'{"plan":"test","region":"us","uuid":"%s",'
            b'"oauth_grant":{"code":"a","code":"b","expires_at":"2031-01-01T00:00:00Z"}}',
            "code",
        ),
    ],
)
def test_duplicate_keys_are_400(client: TestClient, db: Session, raw: bytes, key: str) -> None:
    if b"%s" in raw:
        raw = raw % str(uuid.uuid4()).encode()
    r = client.post(RESOURCES, content=raw, headers=headers())
    body = refused(r, 400, "duplicate", repr(key))
    assert body["id"] == "bad_request"
    assert counts(db) == (0, 0, 0)


def test_duplicate_keys_in_a_plan_change_are_400(client: TestClient, db: Session) -> None:
    rid = client.post(RESOURCES, json=provision_body(plan="test"), headers=headers()).json()["id"]
    r = client.put(
        f"{RESOURCES}/{rid}", content=b'{"plan":"basic","plan":"test"}', headers=headers()
    )
    refused(r, 400, "duplicate", "'plan'")
    unscoped(db)
    assert db.scalars(select(Resource.plan)).one() == "test"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"plan":"test","region":"us","uuid":"%s","options":{"x":NaN}}',
        b'{"plan":"test","region":"us","uuid":"%s","options":{"x":Infinity}}',
        b'{"plan":"test","region":"us","uuid":"%s","options":{"x":' + b"9" * 5000 + b"}}",
        b'{"plan":"test","region":"us","uuid":"%s","options":' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"plan":"test","region":"us","uuid":"%s","name":"\xff\xfe"}',
    ],
)
def test_json_python_would_bend_is_400(client: TestClient, db: Session, raw: bytes) -> None:
    r = client.post(RESOURCES, content=raw % str(uuid.uuid4()).encode(), headers=headers())
    refused(r, 400)
    assert counts(db) == (0, 0, 0)


def test_rows_that_already_collide_are_looked_up_by_shape(
    client: TestClient, sessions: sessionmaker[Session], db: Session
) -> None:
    # What the old code let in: B's "uuid" is A's id. Lookups must not 500 on it.
    first = client.post(RESOURCES, json=provision_body(), headers=headers()).json()["id"]
    with sessions.begin() as s:
        s.add(
            Resource(heroku_uuid=first, plan="test", region="us", state=ResourceState.provisioned)
        )
    path = f"{RESOURCES}/{first}"
    r = client.put(path, json={"plan": "test"}, headers=headers())
    assert r.status_code == 200, r.text
    assert r.json()["config"]["GUVSCALE_ID"] == first
    assert client.delete(path, headers=headers()).status_code == 204


# --- a stored state no release knows (a newer release's, or a hand edit) -----

UNKNOWN = "unknown resource state"  # tests.factories.POISONS: state = 'bogus'


def stored_state(db: Session, rid: str) -> str:
    """The raw column, as the database holds it."""
    db.expire_all()
    return str(db.scalar(text("SELECT state FROM resources WHERE id = :id"), {"id": rid}))


def in_unknown_state(app: FastAPI, sessions: sessionmaker[Session]) -> Tenant:
    """A provisioned tenant with credentials, its state then overwritten with 'bogus'."""
    with sessions() as s:
        made = tenant(s, app.state.vault, rules=None)
    poison(sessions, made.id, UNKNOWN)
    return made


def test_a_state_no_release_knows_reads_as_unknown_and_is_never_written(
    app: FastAPI, sessions: sessionmaker[Session], db: Session
) -> None:
    bad = in_unknown_state(app, sessions)
    good = add_tenant(sessions)
    unscoped(db)
    states = {rid: state for rid, state in db.execute(select(Resource.id, Resource.state))}
    assert states == {bad.id: ResourceState.unknown, good.id: ResourceState.provisioned}
    # A change to another column leaves the stored value as it was.
    row = db.get_one(Resource, bad.id)
    row.name = "renamed"
    db.commit()
    assert stored_state(db, bad.id) == "bogus"
    row.state = ResourceState.unknown
    with pytest.raises(StatementError, match="never stored"):
        db.commit()
    db.rollback()
    assert stored_state(db, bad.id) == "bogus"


def test_deprovision_in_an_unknown_state_ends_the_add_on_and_keeps_no_secret(
    client: TestClient, app: FastAPI, sessions: sessionmaker[Session], db: Session
) -> None:
    bad = in_unknown_state(app, sessions)
    assert count(db, Credentials) == 1
    path = f"{RESOURCES}/{bad.heroku_uuid}"
    assert client.delete(path, headers=headers()).status_code == 204, path
    assert stored_state(db, bad.id) == "deprovisioned"
    row = db.get_one(Resource, bad.id)
    assert row.api_token_hash is None and row.deprovisioned_at is not None
    assert count(db, Credentials) == 0
    assert client.delete(path, headers=headers()).status_code == 204  # a repeat


def test_a_plan_change_in_an_unknown_state_is_422_and_changes_nothing(
    client: TestClient, app: FastAPI, sessions: sessionmaker[Session], db: Session
) -> None:
    bad = in_unknown_state(app, sessions)
    r = client.put(f"{RESOURCES}/{bad.id}", json={"plan": "test"}, headers=headers())
    refused(r, 422, bad.id, "state this release does not know", "deprovisioned")
    assert stored_state(db, bad.id) == "bogus"
    unscoped(db)
    assert db.get_one(Resource, bad.id).plan == "performance"


def test_a_repeated_provision_in_an_unknown_state_is_422(
    client: TestClient, app: FastAPI, sessions: sessionmaker[Session], db: Session
) -> None:
    bad = in_unknown_state(app, sessions)
    before = counts(db)
    body = provision_body(uuid=bad.heroku_uuid, oauth_grant=oauth_grant())
    answer = refused(client.post(RESOURCES, json=body, headers=headers()), 422, bad.heroku_uuid)
    assert answer["where"] == "uuid"
    assert counts(db) == before
    assert stored_state(db, bad.id) == "bogus"


def test_one_tenant_in_an_unknown_state_leaves_the_others_served(
    client: TestClient, app: FastAPI, sessions: sessionmaker[Session], db: Session
) -> None:
    before = add_tenant(sessions, plan="basic")
    bad = in_unknown_state(app, sessions)
    after = add_tenant(sessions, plan="basic")
    for other in (before, after):
        r = client.put(f"{RESOURCES}/{other.id}", json={"plan": "standard"}, headers=headers())
        assert r.status_code == 200, r.text
        config = r.json()["config"]
        assert config["GUVSCALE_ID"] == other.id
        # Its config API opens with the token the plan change answered; the bad one's does not.
        auth = {"Authorization": f"Bearer {config['GUVSCALE_TOKEN']}"}
        assert client.get(f"/config/{other.id}", headers=auth).status_code == 200
    assert client.get(f"/config/{bad.id}", headers=bad.auth).status_code == 401
    fresh = provision_body()
    assert client.post(RESOURCES, json=fresh, headers=headers()).status_code == 201
    assert client.delete(f"{RESOURCES}/{before.id}", headers=headers()).status_code == 204
    assert stored_state(db, before.id) == "deprovisioned"
    assert stored_state(db, after.id) == "provisioned"
    assert stored_state(db, bad.id) == "bogus"
