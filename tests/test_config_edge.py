"""The config API at the partner API's edge standard (issue 6 item 12, issue 8
section 1): the token is checked before anything about the body (401), then
the media type (415), then strict JSON (400 naming the problem), then the
typed body (422); nothing is saved on any of them; OpenAPI shows each answer
with the shape sent."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, RulesVersion
from guvscale.db.scoping import unscoped
from guvscale.web.api_auth import TenantDep
from guvscale.web.app import create_app
from tests.factories import Tenant, add_tenant
from tests.web_fixtures import make_settings

RULES = "emailsender:\n  queue: send-email\n  deadline: 180\n  maximum: 5\n"
DEEP = "[" * 20_000 + "]" * 20_000  # under MAX_BODY_BYTES, over any parser's depth
# (path under /config/{id}, method, a body the route would take)
BODY_ROUTES = [
    ("", "POST", '{"config": "x: {}"}'),
    ("/credentials", "PUT", '{"brokerUrl": "amqp://h/"}'),
    ("/dry-run", "PUT", '{"dryRun": true}'),
]
MALFORMED = {
    "not json": "not json",
    "duplicate key": '{"config": "a", "config": "b"}',
    "NaN": '{"dryRun": NaN}',
    "nested too deeply": DEEP,
    "not a config": '{"yaml": 5}',
}


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> Tenant:
    return add_tenant(sessions)


def send(
    client: TestClient, tenant: Tenant, method: str, path: str, content: str, **headers: str
) -> Any:
    return client.request(
        method,
        f"/config/{tenant.id}{path}",
        content=content,
        headers={"Content-Type": "application/json", **headers},
    )


def rules_saved(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        unscoped(session)
        return session.scalar(select(func.count()).select_from(RulesVersion)) or 0


# -- order: 401 before anything about the body ------------------------------------


@pytest.mark.parametrize("content", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize(("path", "method", "_"), BODY_ROUTES)
@pytest.mark.parametrize(
    "auth", ["", "Bearer wrong-token", "Basic Z3V2c2NhbGU6eA=="], ids=["none", "wrong", "basic"]
)
def test_a_bad_token_with_a_malformed_body_is_401_not_400_or_422(
    client: TestClient, tenant: Tenant, auth: str, path: str, method: str, _: str, content: str
) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = send(client, tenant, method, path, content, **headers)
    assert r.status_code == 401, r.text
    assert r.json()["id"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("path", "method", "_"), BODY_ROUTES)
def test_a_bad_token_with_another_media_type_is_401_not_415(
    client: TestClient, tenant: Tenant, path: str, method: str, _: str
) -> None:
    r = client.request(
        method, f"/config/{tenant.id}{path}", content="x", headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 401


# -- then the media type, then strict JSON, then the typed body -------------------


@pytest.mark.parametrize(("path", "method", "_"), BODY_ROUTES)
@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_another_media_type_is_415_even_with_a_malformed_body(
    client: TestClient, tenant: Tenant, path: str, method: str, _: str, media: str
) -> None:
    r = client.request(
        method,
        f"/config/{tenant.id}{path}",
        content='{"config": "a", "config": "b"}',
        headers={**tenant.auth, "Content-Type": media},
    )
    assert r.status_code == 415, r.text
    assert r.json()["where"] == "content-type"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ('{"config": "x: {}", "config": "' + RULES.replace("\n", "\\n") + '"}', "'config'"),
        ('{"dryRun": NaN}', "NaN"),
        ('{"dryRun": Infinity}', "Infinity"),
        (DEEP, "nested too deeply"),
        ('{"config": "x"', "valid JSON"),
    ],
    ids=["duplicate key", "NaN", "Infinity", "nested too deeply", "truncated"],
)
@pytest.mark.parametrize(("path", "method", "_"), BODY_ROUTES)
def test_ambiguous_or_malformed_json_is_400_naming_the_problem_before_the_body_is_typed(
    client: TestClient, tenant: Tenant, path: str, method: str, _: str, content: str, named: str
) -> None:
    r = send(client, tenant, method, path, content, **tenant.auth)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["id"] == "bad_request" and body["where"] == "body"
    assert named in body["message"]


def test_duplicate_keys_to_post_config_are_400_and_nothing_saved(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    rules = RULES.replace("\n", "\\n")
    r = send(
        client, tenant, "POST", "", f'{{"config": "{rules}", "config": "{rules}"}}', **tenant.auth
    )
    assert r.status_code == 400
    assert "duplicate key 'config'" in r.json()["message"]
    assert rules_saved(sessions) == 0
    empty = {"configYaml": "", "version": 0}
    assert client.get(f"/config/{tenant.id}", headers=tenant.auth).json() == empty
    # The same body once is taken.
    ok = send(client, tenant, "POST", "", f'{{"config": "{rules}"}}', **tenant.auth)
    assert ok.status_code == 200, ok.text
    assert rules_saved(sessions) == 1


def test_duplicate_keys_to_put_dry_run_are_400_and_the_flag_unchanged(
    client: TestClient, tenant: Tenant, sessions: sessionmaker[Session]
) -> None:
    r = send(client, tenant, "PUT", "/dry-run", '{"dryRun": true, "dryRun": false}', **tenant.auth)
    assert r.status_code == 400
    with sessions() as session:
        assert session.get(Resource, tenant.id).dry_run is False  # type: ignore[union-attr]


def test_a_well_formed_body_of_the_wrong_shape_is_still_422(
    client: TestClient, tenant: Tenant
) -> None:
    r = send(client, tenant, "PUT", "/dry-run", '{"dryRun": "yes"}', **tenant.auth)
    assert r.status_code == 422
    assert r.json()["where"] == "body.dryRun"


def test_a_body_over_the_cap_is_413_whoever_sends_it(client: TestClient, tenant: Tenant) -> None:
    big = '{"config": "' + "x" * (200 * 1024) + '"}'
    for headers in ({}, tenant.auth):
        assert send(client, tenant, "POST", "", big, **headers).status_code == 413


def test_tenant_dep_on_a_router_without_config_route_still_checks_the_token(
    app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    """A later /config route on a plain router (say GET .../status) never fails open."""
    plain = APIRouter(prefix="/config")

    @plain.get("/{id}/probe")
    async def probe(tenant: TenantDep) -> dict[str, str]:
        return {"id": tenant.resource_id}

    app.include_router(plain)
    tenant, other = add_tenant(sessions), add_tenant(sessions)
    with TestClient(app) as client:
        url = f"/config/{tenant.id}/probe"
        assert client.get(url).status_code == 401
        assert client.get(url, headers=other.auth).status_code == 401
        assert client.get(url, headers=tenant.auth).json() == {"id": tenant.id}


# -- what the schemathesis run found in PUT /config/{id}/credentials (each was a 500) --


@pytest.mark.parametrize("token", ["t\u00f6k\u00e9n-1234567890", "tok en", "tok\x00en", " \t "])
def test_a_heroku_token_that_cannot_go_in_a_header_is_422_at_the_edge(
    client: TestClient, tenant: Tenant, token: str
) -> None:
    url = f"/config/{tenant.id}/credentials"
    r = client.put(url, json={"herokuToken": token}, headers=tenant.auth)
    assert r.status_code == 422, r.text
    assert r.json()["where"] == "body.herokuToken"


ODD_HOSTS = ["\x00", "u:p@xn--", "u:p@256.1.1.1"]


@pytest.mark.parametrize(
    "body",
    [{"brokerUrl": f"amqps://{host}/v"} for host in ODD_HOSTS]
    + [
        {"brokerUrl": "amqp://guest:guest@127.0.0.1/", "managementUrl": url}
        for url in [f"https://{host}/" for host in ODD_HOSTS] + ["http://h:99999/", "http://[::1/"]
    ],
)
def test_a_url_whose_host_cannot_be_sent_to_is_422_naming_the_field(
    client: TestClient, tenant: Tenant, body: dict[str, str]
) -> None:
    """Development allows private brokers, so these reach the HTTP client."""
    r = client.put(f"/config/{tenant.id}/credentials", json=body, headers=tenant.auth)
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["id"] == "invalid_credentials"
    assert answer["where"] == ("managementUrl" if "managementUrl" in body else "brokerUrl")
    assert "p@" not in answer["message"]


# -- the schema says so -------------------------------------------------------------

CONFIG_OPERATIONS = [
    ("/config/{id}", "get", ("200", "401", "500", "503")),
    ("/config/{id}", "post", ("200", "400", "401", "409", "413", "415", "422", "500", "503")),
    ("/config/{id}/credentials", "get", ("200", "401", "500", "503")),
    (
        "/config/{id}/credentials",
        "put",
        ("200", "400", "401", "404", "413", "415", "422", "500", "503"),
    ),
    ("/config/{id}/dry-run", "put", ("200", "400", "401", "413", "415", "422", "500", "503")),
]
ERROR = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/openapi.json").json()
    return found


@pytest.mark.parametrize(("path", "method", "statuses"), CONFIG_OPERATIONS)
def test_every_config_answer_is_documented_with_the_shape_sent(
    spec: dict[str, Any], path: str, method: str, statuses: tuple[str, ...]
) -> None:
    operation = spec["paths"][path][method]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert set(statuses) <= set(operation["responses"])
    for status, answer in operation["responses"].items():
        if status[0] in "45" and (path, method, status) != ("/config/{id}", "post", "422"):
            assert answer["content"]["application/json"]["schema"] == ERROR, status
    assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert operation["responses"]["503"]["headers"]["Retry-After"]["required"] is True
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_the_rules_422_documents_both_shapes_it_sends(
    client: TestClient, tenant: Tenant, spec: dict[str, Any]
) -> None:
    schema = {
        **spec["paths"]["/config/{id}"]["post"]["responses"]["422"]["content"]["application/json"][
            "schema"
        ],
        "components": spec["components"],
    }
    invalid_rules = client.post(
        f"/config/{tenant.id}", json={"config": "a: 1"}, headers=tenant.auth
    )
    not_a_config = client.post(f"/config/{tenant.id}", json={"config": 5}, headers=tenant.auth)
    assert (invalid_rules.status_code, not_a_config.status_code) == (422, 422)
    assert invalid_rules.json()["id"] == "invalid_rules" and invalid_rules.json()["errors"]
    assert not_a_config.json()["id"] == "invalid_params"
    for answer in (invalid_rules.json(), not_a_config.json()):
        jsonschema.validate(answer, schema)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/heroku/resources", "post"),
        ("/heroku/resources/{ident}", "put"),
        ("/heroku/resources/{ident}", "delete"),
        ("/heroku/sso", "post"),
        ("/resources/{resource_id}", "get"),
        ("/logout", "post"),
    ],
)
def test_partner_and_page_routes_document_500_and_503(
    spec: dict[str, Any], path: str, method: str
) -> None:
    responses = spec["paths"][path][method]["responses"]
    for status in ("500", "503"):
        content = responses[status]["content"]
        assert content["application/json"]["schema"] == ERROR
        assert "text/html" in content
    assert "Retry-After" in responses["503"]["headers"]


def test_a_config_call_while_the_database_is_away_is_the_documented_503(
    database_url: str, spec: dict[str, Any]
) -> None:
    """The token check runs in the route class, before FastAPI's dependencies:
    a database error there is still the 503 the schema shows, not a 500."""
    away = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", pool_pre_ping=True)
    app = create_app(make_settings(database_url=database_url), engine=away, run_background=False)
    documented = spec["paths"]["/config/{id}"]["post"]["responses"]["503"]
    schema = {**spec["components"]["schemas"]["ErrorBody"], "additionalProperties": False}
    with TestClient(app) as client:
        r = client.post(
            "/config/gvs-0123456789abcdef",
            json={"config": RULES},
            headers={"Authorization": "Bearer x"},
        )
        assert r.status_code == 503, r.text
        assert r.json()["id"] == "database_unavailable"
        jsonschema.validate(r.json(), schema)
        assert r.headers["retry-after"].isdigit() and "Retry-After" in documented["headers"]
        page = client.get("/config/gvs-0123456789abcdef", headers={"Accept": "text/html"})
        assert page.status_code == 503 and "text/html" in page.headers["content-type"]
        assert "text/html" in documented["content"]
    away.dispose()


def test_an_unknown_query_parameter_is_refused_after_the_token(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    tenant = add_tenant(sessions)
    path = f"/config/{tenant.id}/events"
    assert client.get(path + "?limt=5").status_code == 401  # who is calling comes first
    r = client.get(path + "?limt=5", headers=tenant.auth)
    assert r.status_code == 422 and r.json()["where"] == "limt", r.text
    assert client.get(path + "?limit=5", headers=tenant.auth).status_code == 200


def test_events_before_is_a_date_time_not_unix_seconds(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    tenant = add_tenant(sessions)
    path = f"/config/{tenant.id}/events"
    r = client.get(path + "?before=5", headers=tenant.auth)
    assert r.status_code == 422 and r.json()["where"] == "query.before", r.text
    ok = client.get(path + "?before=2026-12-01T08:00:00Z", headers=tenant.auth)
    assert ok.status_code == 200 and ok.json() == {"events": []}
