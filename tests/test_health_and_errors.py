"""Health, request ids, the body cap and the JSON error shape every route shares."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from guvscale.settings import ConfigError, Settings
from guvscale.web.app import create_app
from tests.factories import strong_production_values
from tests.web_fixtures import make_settings


def test_health_reports_database(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_health_degrades_when_database_is_unreachable() -> None:
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    app = create_app(make_settings(), engine=dead, run_background=False)
    with TestClient(app) as c:
        r = c.get("/health")
    assert r.status_code == 503
    assert r.json() == {
        "status": "degraded",
        "database": "unavailable",
        "worker": "unknown",
        "version": "0.1.0",
    }


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert (
        client.get("/health", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"]
        == "abc-123"
    )
    made = client.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 36


def test_one_log_line_per_request_without_query_string(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="guvscale.request"):
        client.get("/health?token=secret-value")
    lines = [r for r in caplog.records if r.name == "guvscale.request"]
    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields["path"] == "/health" and fields["status"] == 200
    assert "secret-value" not in json.dumps(fields)


def test_unknown_route_is_json_404(client: TestClient) -> None:
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert r.json()["id"] == "not_found"


def test_body_over_cap_is_413(client: TestClient, settings: Settings) -> None:
    r = client.post("/health", content=b"x" * (settings.max_body_bytes + 1))
    assert r.status_code == 413
    assert r.json()["id"] == "payload_too_large"


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({}, "SECRET_KEY is a development placeholder"),
        ({"secret_key": ""}, "SECRET_KEY is missing"),
        ({"sso_salt": "dev-insecure-sso-salt"}, "SSO_SALT is a development placeholder"),
        ({"database_url": None}, "DATABASE_URL is missing"),
        ({"public_url": "http://example.com"}, "PUBLIC_URL must be an https:// URL"),
    ],
)
def test_production_refuses_missing_or_placeholder_secrets(
    overrides: dict[str, object], named: str
) -> None:
    values: dict[str, object] = {"guvscale_env": "production", "database_url": "postgres://x/y"}
    if overrides:
        values = strong_production_values(**overrides)
    with pytest.raises(ConfigError, match=named):
        Settings(**values).check()  # type: ignore[arg-type]


def test_heroku_postgres_url_form_is_accepted() -> None:
    s = Settings(database_url="postgres://u:p@host:5432/db")  # type: ignore[call-arg]
    assert s.database_url == "postgresql+psycopg://u:p@host:5432/db"
