"""Bad input to the partner API: a clear 4xx naming what is wrong, nothing stored, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.models import Resource
from guvscale.settings import Settings
from tests.partner_helpers import counts, dumps, headers, provision_body

RESOURCES = "/heroku/resources"


def refused(r: Any, status: int, *named: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert body["message"]
    for word in named:
        assert word in body["message"], body
    return body


def test_malformed_json_is_400(client: TestClient, db: Session) -> None:
    r = client.post(RESOURCES, content=b'{"uuid": "abc", "plan": ', headers=headers())
    body = refused(r, 400, "not valid JSON", "line 1 column 25")
    assert body["id"] == "bad_request"
    assert counts(db) == (0, 0, 0)


def test_empty_body_is_400(client: TestClient, db: Session) -> None:
    refused(client.post(RESOURCES, content=b"", headers=headers()), 400, "JSON")
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(
    client: TestClient, db: Session, content_type: str | None
) -> None:
    h = headers()
    del h["Content-Type"]
    if content_type:
        h["Content-Type"] = content_type
    r = client.post(RESOURCES, content=dumps(provision_body()), headers=h)
    body = refused(r, 415, "Content-Type must be application/json")
    assert body["where"] == "content-type"
    r = client.put(f"{RESOURCES}/gvs-0000000000000000", content=b'{"plan":"basic"}', headers=h)
    refused(r, 415, "Content-Type")
    assert counts(db) == (0, 0, 0)


def test_json_content_type_with_charset_is_fine(client: TestClient) -> None:
    h = headers(**{"Content-Type": "application/json; charset=utf-8"})
    assert client.post(RESOURCES, content=dumps(provision_body()), headers=h).status_code == 201


@pytest.mark.parametrize("field", ["uuid", "plan", "region"])
def test_missing_field_is_422_naming_it(client: TestClient, db: Session, field: str) -> None:
    body = provision_body()
    del body[field]
    r = refused(client.post(RESOURCES, json=body, headers=headers()), 422, field, "required")
    assert r["where"] == f"body.{field}"
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    "field, value",
    [
        ("uuid", 12345),
        ("uuid", None),
        ("uuid", ""),
        ("uuid", "u" * 65),
        ("plan", ["basic"]),
        ("region", {"name": "us"}),
        ("name", 7),
        ("name", "n" * 201),
        ("callback_url", False),
        ("options", "not-an-object"),
        ("oauth_grant", "a-string"),
        ("oauth_grant", {"expires_at": "2030-01-01T00:00:00Z"}),
        ("oauth_grant", {"code": "c", "expires_at": "next tuesday"}),
        ("oauth_grant", {"code": 5, "expires_at": "2030-01-01T00:00:00Z"}),
    ],
)
def test_wrongly_typed_field_is_422_naming_it(
    client: TestClient, db: Session, field: str, value: object
) -> None:
    body = provision_body(**{field: value})
    r = refused(client.post(RESOURCES, json=body, headers=headers()), 422, field)
    assert r["where"].startswith(f"body.{field}")
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize("body", [[], "a string", 42, None])
def test_body_that_is_not_an_object_is_422(client: TestClient, db: Session, body: object) -> None:
    refused(client.post(RESOURCES, content=json.dumps(body), headers=headers()), 422, "body")
    assert counts(db) == (0, 0, 0)


def test_unknown_plan_is_422_listing_the_plans(client: TestClient, db: Session) -> None:
    r = client.post(RESOURCES, json=provision_body(plan="enterprise"), headers=headers())
    body = refused(r, 422, "unknown plan 'enterprise'", "test", "basic", "performance")
    assert body["where"] == "plan"
    assert counts(db) == (0, 0, 0)


@pytest.mark.parametrize(
    "region", ["mars", "amazon-web-services::mars-east-1", "google::us-east-1", "", "us::"]
)
def test_unknown_region_is_422_listing_the_regions(
    client: TestClient, db: Session, region: str
) -> None:
    r = client.post(RESOURCES, json=provision_body(region=region), headers=headers())
    body = refused(r, 422, "unknown region", "amazon-web-services::us-east-1", "eu")
    assert body["where"] == "region"
    assert counts(db) == (0, 0, 0)


def test_body_over_the_cap_is_413(client: TestClient, db: Session, settings: Settings) -> None:
    body = provision_body(options={"padding": "x" * settings.max_body_bytes})
    refused(client.post(RESOURCES, json=body, headers=headers()), 413, "larger than")
    assert counts(db) == (0, 0, 0)


def test_chunked_body_over_the_cap_is_413(
    client: TestClient, db: Session, settings: Settings
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"uuid": "chunked", "plan": "basic", "region": "us", "options": {"p": "'
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b"x" * 1024
        yield b'"}}'

    r = client.post(RESOURCES, content=chunks(), headers=headers())
    refused(r, 413, "larger than")
    assert counts(db) == (0, 0, 0)


def test_nul_characters_are_refused_not_crashed_on(client: TestClient, db: Session) -> None:
    r = client.post(RESOURCES, json=provision_body(name="bad\x00name"), headers=headers())
    refused(r, 422, "name", "NUL")
    assert counts(db) == (0, 0, 0)


SQLISH = [
    "'; DROP TABLE resources; --",
    'Robert"); DELETE FROM resources WHERE ("1"="1',
    "x' OR '1'='1",
    'O\'Brien "quoted" \\ back\\slash',
    "émoji 🚀 ünïcode",
]


@pytest.mark.parametrize("text", SQLISH)
def test_sql_and_quotes_are_stored_and_echoed_verbatim(
    client: TestClient, db: Session, text: str
) -> None:
    body = provision_body(name=text, callback_url=text)
    r = client.post(RESOURCES, json=body, headers=headers())
    assert r.status_code == 201, r.text
    db.expire_all()
    resource = db.scalars(select(Resource)).one()
    assert resource.name == text and resource.callback_url == text
    # Only a UUID is a Heroku uuid: the text itself is refused as one.
    refused(client.post(RESOURCES, json=provision_body(uuid=text), headers=headers()), 422, "uuid")
    assert counts(db) == (1, 0, 0)


@pytest.mark.parametrize("text", SQLISH)
def test_sql_in_unknown_plan_region_and_ids_is_refused(
    client: TestClient, db: Session, text: str
) -> None:
    body = refused(client.post(RESOURCES, json=provision_body(plan=text), headers=headers()), 422)
    assert text in body["message"] or repr(text)[1:-1] in body["message"]
    refused(client.post(RESOURCES, json=provision_body(region=text), headers=headers()), 422)
    path_safe = text.replace("/", "")
    refused(client.delete(f"{RESOURCES}/{path_safe}", headers=headers()), 404)
    r = client.put(f"{RESOURCES}/{path_safe}", json={"plan": "basic"}, headers=headers())
    refused(r, 404)
    assert counts(db) == (0, 0, 0)


def test_plan_change_body_errors(client: TestClient, db: Session) -> None:
    rid = client.post(RESOURCES, json=provision_body(plan="test"), headers=headers()).json()["id"]
    path = f"{RESOURCES}/{rid}"
    refused(client.put(path, content=b"{", headers=headers()), 400, "JSON")
    refused(client.put(path, json={}, headers=headers()), 422, "plan")
    refused(client.put(path, json={"plan": 3}, headers=headers()), 422, "plan")
    db.expire_all()
    assert db.scalars(select(Resource.plan)).one() == "test"
