"""The one place configuration is read from the environment.

Development gets working placeholder secrets so a fresh clone runs with no
set-up; production refuses to start while any secret is missing or still a
placeholder, and names each one.
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Placeholders are recognisable on purpose: production refuses every one of them.
PLACEHOLDER_PREFIX = "dev-insecure-"
_DEV_FERNET_KEY = base64.urlsafe_b64encode(b"dev-insecure-fernet-key-32bytes!").decode()

SECRET_FIELDS = (
    "secret_key",
    "addon_password",
    "sso_salt",
    "heroku_oauth_secret",
    "encryption_keys",
)


class ConfigError(RuntimeError):
    """Settings that the service must not start with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    guvscale_env: Literal["production", "development"] = "development"
    # Unset means: start an embedded PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: str = ".data"

    secret_key: str = PLACEHOLDER_PREFIX + "secret-key"
    addon_id: str = "guvscale"
    addon_password: str = PLACEHOLDER_PREFIX + "addon-password"
    sso_salt: str = PLACEHOLDER_PREFIX + "sso-salt"
    heroku_oauth_secret: str = PLACEHOLDER_PREFIX + "oauth-secret"
    # Comma-separated Fernet keys, newest first: the first encrypts, all decrypt.
    encryption_keys: str = _DEV_FERNET_KEY

    heroku_api_url: str = "https://api.heroku.com"
    heroku_id_url: str = "https://id.heroku.com"
    # Where users reach us; becomes GUVSCALE_URL in the app's config.
    public_url: str = "http://localhost:8000"
    http_timeout: float = 10.0
    # Largest request body we read, in bytes; Heroku's provision bodies are < 4 KiB.
    max_body_bytes: int = 64 * 1024
    # Whether broker URLs may point at private, loopback or link-local addresses.
    # Unset: allowed in development (a local RabbitMQ), refused in production (SSRF).
    # Read it through `private_brokers_allowed`.
    allow_private_brokers: bool | None = None

    # -- the scaling worker (guvscale worker) --
    # Tenants one worker process works on at once.
    worker_concurrency: int = 50
    # Seconds one tenant's tick may take, all its calls together; each call also
    # has HTTP_TIMEOUT. Leases last this plus a margin, so a dead worker's
    # tenants are taken over well within two 10 s intervals.
    worker_tenant_timeout: float = 8.0
    # Seconds between looks for due tenants (each tenant is due at its plan's interval).
    worker_loop_seconds: float = 1.0
    # Most tenants one process claims per round.
    worker_batch: int = 500
    # Run the worker inside the web process too (`guvscale dev` sets it).
    worker_in_web: bool = False
    # Seconds between polls of every tenant, overriding the plans' intervals: for
    # tests and the local sandbox only (unset in production, where the plan decides).
    worker_poll_seconds: int | None = None
    # Bearer token /metrics requires; unset leaves /metrics open.
    metrics_token: str | None = None

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        # Heroku hands out postgres:// URLs; SQLAlchemy wants an explicit driver.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @property
    def is_production(self) -> bool:
        return self.guvscale_env == "production"

    @property
    def private_brokers_allowed(self) -> bool:
        if self.allow_private_brokers is None:
            return not self.is_production
        return self.allow_private_brokers

    @property
    def encryption_key_list(self) -> list[str]:
        return [k.strip() for k in self.encryption_keys.split(",") if k.strip()]

    def problems(self) -> list[str]:
        """What makes these settings unfit for production, one line each."""
        found = []
        for name in SECRET_FIELDS:
            value = str(getattr(self, name) or "")
            env = name.upper()
            if not value:
                found.append(f"{env} is missing")
            elif PLACEHOLDER_PREFIX in value or (
                name == "encryption_keys" and _DEV_FERNET_KEY in value
            ):
                found.append(f"{env} is a development placeholder")
        if self.database_url is None:
            found.append("DATABASE_URL is missing (embedded PostgreSQL is for development only)")
        if not self.public_url.startswith("https://"):
            found.append("PUBLIC_URL must be https:// in production")
        return found

    def check(self) -> None:
        """Raise ConfigError naming every problem, when running in production."""
        if self.is_production and (problems := self.problems()):
            raise ConfigError("refusing to start: " + "; ".join(problems))
