"""Production settings and transport (issue 6, items 5, 9 and 13)."""

from __future__ import annotations

import base64

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from guvscale.settings import ConfigError, Settings
from guvscale.web.app import create_app
from tests.factories import strong_production_values
from tests.web_fixtures import make_settings

# -- item 5: weak secrets and a bad PUBLIC_URL are refused, each by name -------


def test_strong_production_settings_start() -> None:
    settings = Settings(**strong_production_values())  # type: ignore[arg-type]
    assert settings.problems() == []
    settings.check()


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"secret_key": "x"}, "SECRET_KEY is too short: 1 characters, at least 32"),
        ({"secret_key": "ab" * 20}, "SECRET_KEY is too predictable"),
        ({"addon_password": "abc"}, "ADDON_PASSWORD is too short: 3 characters, at least 8"),
        ({"addon_password": "p" * 73}, "ADDON_PASSWORD is too long: 73 characters, at most 72"),
        ({"addon_password": "aaaaaaaaaa"}, "ADDON_PASSWORD is too predictable"),
        ({"sso_salt": "s"}, "SSO_SALT is too short: 1 characters, at least 16"),
        ({"sso_salt": "saltsaltsaltsalt"}, "SSO_SALT is too predictable"),
        ({"heroku_oauth_secret": "oauth"}, "HEROKU_OAUTH_SECRET is too short"),
        ({"heroku_oauth_secret": "0" * 36}, "HEROKU_OAUTH_SECRET is too predictable"),
        ({"encryption_keys": "bm90LWEta2V5"}, "ENCRYPTION_KEYS: key 1 is not a Fernet key"),
        (
            {"encryption_keys": base64.urlsafe_b64encode(b"k" * 32).decode()},
            "ENCRYPTION_KEYS: key 1 is too predictable",
        ),
        ({"public_url": "https://"}, "PUBLIC_URL must be an https:// URL with a host"),
        ({"public_url": "http://guvscale.example.com"}, "PUBLIC_URL must be an https:// URL"),
        ({"public_url": "https://:443"}, "PUBLIC_URL must be an https:// URL with a host"),
        ({"public_url": "https://u:p@guvscale.example.com"}, "PUBLIC_URL must not hold a user"),
        ({"public_url": "https://guvscale.example.com:99999"}, "PUBLIC_URL has a bad port"),
        ({"public_url": "https://guvscale.example.com/?a=1"}, "PUBLIC_URL must be only"),
        ({"public_url": "guvscale.example.com"}, "PUBLIC_URL must be an https:// URL"),
    ],
)
def test_production_refuses_weak_secrets_and_bad_urls(
    overrides: dict[str, object], named: str
) -> None:
    settings = Settings(**strong_production_values(**overrides))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=named) as refused:
        settings.check()
    # One problem, named once, and no secret value in the message.
    assert len(settings.problems()) == 1, settings.problems()
    for name, value in overrides.items():
        if name != "public_url" and len(str(value)) > 3:
            assert str(value) not in str(refused.value)


def test_every_weak_secret_is_named_at_once() -> None:
    weak = strong_production_values(
        secret_key="x", addon_password="abc", sso_salt="s", heroku_oauth_secret="o"
    )
    problems = Settings(**weak).problems()  # type: ignore[arg-type]
    for env in ("SECRET_KEY", "ADDON_PASSWORD", "SSO_SALT", "HEROKU_OAUTH_SECRET"):
        assert any(p.startswith(env) for p in problems), (env, problems)


# -- item 9: redirects never reflect the Host header -------------------------


@pytest.mark.parametrize("path, target", [("/health/", "/health"), ("/health/?a=1", "/health?a=1")])
def test_a_trailing_slash_redirect_is_built_from_public_url_not_host(
    client: TestClient, path: str, target: str
) -> None:
    r = client.get(path, headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.status_code in (307, 308)
    assert "evil.example" not in r.headers["location"]
    assert r.headers["location"] == "http://testserver" + target  # PUBLIC_URL in the tests


def test_a_slash_redirect_keeps_the_method_and_unknown_paths_stay_404(
    client: TestClient,
) -> None:
    r = client.post("/heroku/resources/", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "http://testserver/heroku/resources"
    assert client.get("/no/such/page/", headers={"Host": "evil.example"}).status_code == 404
    doubled = client.get("//evil.example/health/", follow_redirects=False)
    assert doubled.status_code == 404 or "evil.example" not in doubled.headers.get("location", "")


# -- item 13: HSTS and http -> https behind Heroku's router ----------------------


@pytest.fixture
def production_app(database_url: str, engine: Engine, sessions: object) -> FastAPI:
    values = strong_production_values(database_url=database_url)
    values["encryption_keys"] = make_settings().encryption_keys
    return create_app(Settings(**values), engine=engine, run_background=False)  # type: ignore[arg-type]


def test_production_sends_hsts(production_app: FastAPI) -> None:
    with TestClient(production_app, base_url="https://guvscale.example.com") as c:
        r = c.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200
    hsts = r.headers["strict-transport-security"]
    assert "max-age=" in hsts and int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_production_redirects_plain_http_to_https(production_app: FastAPI, method: str) -> None:
    with TestClient(production_app, base_url="http://guvscale.example.com") as c:
        r = c.request(
            method,
            "/health?x=1",
            headers={"X-Forwarded-Proto": "http", "Host": "evil.example"},
            follow_redirects=False,
        )
    assert r.status_code == 308  # keeps the method and body
    assert r.headers["location"] == "https://guvscale.example.com/health?x=1"


def test_development_neither_redirects_nor_sends_hsts(client: TestClient) -> None:
    r = client.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert r.status_code == 200 and "strict-transport-security" not in r.headers


# -- timeouts: the management API's share of a tick --------------------------


@pytest.mark.parametrize(
    ("http", "tick", "call"),
    [(10.0, 8.0, 4.0), (5.0, 8.0, 4.0), (2.0, 6.0, 2.0), (3.0, 8.0, 3.0)],
    ids=["defaults", "over half", "test settings", "sandbox"],
)
def test_a_worker_call_takes_no_more_than_half_a_tick(
    http: float, tick: float, call: float
) -> None:
    # With the defaults one 10 s call outlasted the 8 s tick: the AMQP
    # fallback or Heroku's PATCH after a slow read never ran.
    settings = make_settings(http_timeout=http, worker_tenant_timeout=tick)
    assert settings.worker_call_timeout == call


@pytest.mark.parametrize("field", ["http_timeout", "worker_tenant_timeout"])
def test_a_timeout_of_zero_is_refused(field: str) -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        make_settings(**{field: 0})
