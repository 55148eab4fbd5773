"""The OpenAPI schema describes what the app really does (issue 6, item 12),
and schemathesis holds the app to it: no 5xx, no answer the schema does not allow."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from guvscale.settings import Settings
from guvscale.web.app import SESSION_COOKIE
from tests.factories import Tenant, add_tenant, csrf_of, sso_fields
from tests.fake_heroku.fixtures import FakeHeroku
from tests.partner_helpers import basic, headers, provision_body
from tests.web_fixtures import make_settings

RESOURCES = "/heroku/resources"
DASHBOARD = "/resources/{resource_id}"
ERROR = {"$ref": "#/components/schemas/ErrorBody"}


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    found: dict[str, Any] = r.json()
    return found


def json_schema_of(answer: dict[str, Any]) -> Any:
    return answer["content"]["application/json"]["schema"]


@pytest.mark.parametrize(
    "path, method, model",
    [
        (RESOURCES, "post", "ProvisionRequest"),
        (RESOURCES + "/{ident}", "put", "PlanChangeRequest"),
    ],
)
def test_request_bodies_are_described(
    spec: dict[str, Any], path: str, method: str, model: str
) -> None:
    body = spec["paths"][path][method]["requestBody"]
    assert body["required"] is True
    assert json_schema_of(body) == {"$ref": f"#/components/schemas/{model}"}
    properties = spec["components"]["schemas"][model]["properties"]
    assert "plan" in properties


def test_the_provision_body_gives_the_shapes_it_accepts(spec: dict[str, Any]) -> None:
    uuid = spec["components"]["schemas"]["ProvisionRequest"]["properties"]["uuid"]
    assert "pattern" in uuid
    grant = spec["components"]["schemas"]["OAuthGrant"]["properties"]["expires_at"]
    assert grant["type"] == "string" and "pattern" in grant
    region = spec["components"]["schemas"]["ProvisionRequest"]["properties"]["region"]
    assert "pattern" in region


def test_basic_auth_is_described(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["heroku_partner"]
    assert scheme == {"type": "http", "scheme": "basic"}
    for method, operation in spec["paths"][RESOURCES + "/{ident}"].items():
        assert operation["security"] == [{"heroku_partner": []}], method
    assert spec["paths"][RESOURCES]["post"]["security"] == [{"heroku_partner": []}]


@pytest.mark.parametrize(
    "path, method, statuses",
    [
        (RESOURCES, "post", ("200", "201", "202", "400", "401", "413", "415", "422")),
        (RESOURCES + "/{ident}", "put", ("200", "400", "401", "404", "413", "415", "422")),
        (RESOURCES + "/{ident}", "delete", ("204", "401", "404")),
    ],
)
def test_every_answer_is_documented_with_the_shape_sent(
    spec: dict[str, Any], path: str, method: str, statuses: tuple[str, ...]
) -> None:
    responses = spec["paths"][path][method]["responses"]
    assert set(statuses) <= set(responses)
    for status, answer in responses.items():
        if status.startswith("4"):
            assert json_schema_of(answer) == ERROR, status
    assert "HTTPValidationError" not in str(spec)


def test_documented_error_shape_is_what_a_422_and_a_401_send(
    client: TestClient, spec: dict[str, Any]
) -> None:
    error_schema = {**spec["components"]["schemas"]["ErrorBody"], "additionalProperties": False}
    r = client.post(RESOURCES, json=provision_body(plan=7), headers=headers())
    assert r.status_code == 422
    jsonschema.validate(r.json(), error_schema)
    r = client.post(RESOURCES, json=provision_body(), headers={"Authorization": basic("x", "y")})
    assert r.status_code == 401
    jsonschema.validate(r.json(), error_schema)


def test_browser_routes_are_described_as_html(spec: dict[str, Any]) -> None:
    for path in ("/heroku/sso", "/sso/login"):
        assert set(spec["paths"][path]) == {"get", "post"}
        post = spec["paths"][path]["post"]
        assert "application/x-www-form-urlencoded" in post["requestBody"]["content"]
        assert "text/html" in post["responses"]["403"]["content"]
    form = spec["paths"]["/logout"]["post"]["requestBody"]["content"]
    ref = form["application/x-www-form-urlencoded"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "csrf" in spec["components"]["schemas"][ref]["properties"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_are_off_in_production(database_url: str, engine: Engine, path: str) -> None:
    prod = make_settings(
        guvscale_env="production", database_url=database_url, public_url="https://testserver"
    )
    app = create_prod_app(prod, engine)
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get(path).status_code == 404


def create_prod_app(prod: Any, engine: Engine) -> FastAPI:
    from guvscale.web.app import create_app

    return create_app(prod, engine=engine, run_background=False)


# --- schemathesis: the whole app against its own schema -------------------------


@pytest.fixture
def settings(database_url: str, fake_heroku: FakeHeroku) -> Settings:
    """PUT /config/{id}/credentials checks a token with Heroku: here the fake one,
    over HTTP, which refuses every generated token (422). Private brokers are
    refused, so no generated broker URL reaches this machine's services."""
    return make_settings(
        database_url=database_url,
        heroku_api_url=fake_heroku.api_url,
        heroku_id_url=fake_heroku.id_url,
        http_timeout=5.0,
        allow_private_brokers=False,
    )


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> Tenant:
    """A provisioned add-on whose GUVSCALE_TOKEN the config API's cases carry."""
    return add_tenant(sessions)


@pytest.fixture
def api_schema(app: FastAPI, client: TestClient) -> Any:
    # `client` has run the app's lifespan, so the app has its engine and sessions.
    return schemathesis.openapi.from_asgi("/openapi.json", app)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
# (method, path, has inputs that can be made invalid)
OPERATIONS = [
    ("GET", "/health", False),
    ("POST", RESOURCES, True),
    ("PUT", RESOURCES + "/{ident}", True),
    ("DELETE", RESOURCES + "/{ident}", True),
    ("GET", "/heroku/sso", True),
    ("POST", "/heroku/sso", True),
    ("GET", "/sso/login", True),
    ("POST", "/sso/login", True),
    ("GET", "/resources/{resource_id}", False),  # a free-form path segment: nothing invalid
    ("POST", "/logout", True),
    ("GET", "/config/{id}", True),
    ("POST", "/config/{id}", True),
    ("GET", "/config/{id}/credentials", True),
    ("PUT", "/config/{id}/credentials", True),
    ("PUT", "/config/{id}/dry-run", True),
    ("GET", "/config/{id}/status", False),
    ("GET", "/config/{id}/events", True),
    ("GET", "/metrics", False),
    # The dashboard's JSON routes, with a signed-in session (and its CSRF token).
    ("GET", DASHBOARD + "/graphs/data", True),
    ("POST", DASHBOARD + "/rules/check", True),
]
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, has_inputs in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if has_inputs or mode is GenerationMode.POSITIVE
]


def test_every_operation_is_fuzzed(api_schema: Any) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == {(method, path) for method, path, _ in OPERATIONS}


def fixed_path(path: str, tenant: Tenant) -> dict[str, str] | None:
    """The config API's and dashboard's cases name the tenant whose Bearer token
    (or session) they carry, so they get past that check to the body and the services."""
    if path.startswith("/config/"):
        return {"id": tenant.id}
    if path.startswith(DASHBOARD + "/"):
        return {"resource_id": tenant.id}
    return None


def signed_in(client: TestClient, tenant: Tenant, salt: str) -> dict[str, str]:
    """Headers carrying a live dashboard session for `tenant` and its CSRF token."""
    r = client.post("/heroku/sso", data=sso_fields(tenant, salt), follow_redirects=False)
    assert r.status_code == 302, r.text
    token = csrf_of(client.get(f"/resources/{tenant.id}/rules").text)
    cookie = client.cookies.get(SESSION_COOKIE)
    return {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": token}


def credentials_for(
    path: str, tenant: Tenant, client: TestClient, settings: Settings
) -> dict[str, str]:
    if path.startswith("/config/"):
        return tenant.auth
    if path.startswith(DASHBOARD + "/"):
        return signed_in(client, tenant, settings.sso_salt)
    if path == "/metrics":
        return {}  # public unless METRICS_TOKEN is set (tests/test_worker_records.py)
    return {"Authorization": basic()}


@pytest.mark.parametrize("method, path, mode", CASES)
def test_the_app_keeps_to_its_schema(
    api_schema: Any,
    tenant: Tenant,
    client: TestClient,
    settings: Settings,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    """Bounded: 30 generated requests per operation and mode, failing on any 5xx,
    any status, header, content type or body the schema does not allow, any
    schema-invalid request that is not refused, and any call that succeeds
    again without (or with wrong) credentials."""
    operation = api_schema[path][method]
    headers = credentials_for(path, tenant, client, settings)

    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed_path(path, tenant))

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        sent = headers
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            # The case dropped or garbled its Authorization header on purpose:
            # ours would make it a valid request that rightly succeeds.
            sent = {k: v for k, v in headers.items() if k != "Authorization"}
        case.call_and_validate(headers=sent, checks=CHECKS)

    run()


RULES = "emailsender:\n  queue: send-email\n  deadline: 180\n  maximum: 5\n"
# Generated YAML is never valid rules, nor a generated token one Heroku knows:
# the answers to calls that get that far are held to the schema from these.
ACCEPTED = [
    ("POST", "/config/{id}", {"config": RULES}, 200),
    ("GET", "/config/{id}", None, 200),
    ("PUT", "/config/{id}/dry-run", {"dryRun": True}, 200),
    ("GET", "/config/{id}/credentials", None, 200),
    ("POST", "/config/{id}", {"config": RULES.replace("180", "soon")}, 422),
    ("PUT", "/config/{id}/credentials", {"herokuToken": "not-a-token-heroku-knows"}, 422),
]


@pytest.mark.parametrize("method, path, body, status", ACCEPTED)
def test_the_config_api_answers_keep_to_the_schema(
    api_schema: Any, tenant: Tenant, method: str, path: str, body: Any, status: int
) -> None:
    operation = api_schema[path][method]
    extra = {} if body is None else {"body": body, "media_type": "application/json"}
    case = operation.Case(path_parameters={"id": tenant.id}, **extra)
    response = case.call_and_validate(headers=tenant.auth, checks=CHECKS)
    assert response.status_code == status, response.text
