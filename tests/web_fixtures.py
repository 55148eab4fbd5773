"""The app under test, on the test database, driven through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from guvscale.settings import Settings
from guvscale.web.app import create_app

TEST_KEY = Fernet.generate_key().decode()


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "guvscale_env": "development",
        "secret_key": "test-secret-key-0123456789abcdefgh",
        "addon_id": "guvscale",
        "addon_password": "test-addon-password",
        "sso_salt": "test-sso-salt-0123456",
        "heroku_oauth_secret": "test-oauth-secret",
        "encryption_keys": TEST_KEY,
        "heroku_api_url": "http://127.0.0.1:9/unreachable",
        "heroku_id_url": "http://127.0.0.1:9/unreachable",
        "public_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url=database_url)


@pytest.fixture
def app(settings: Settings, engine: Engine, sessions: object) -> FastAPI:
    # `sessions` is requested so tables are emptied after each app test.
    return create_app(settings, engine=engine, run_background=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client
