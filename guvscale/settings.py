"""The one place configuration is read from the environment.

Development gets working placeholder secrets so a fresh clone runs with no
set-up; production refuses to start while any secret is missing or still a
placeholder, and names each one.
"""

from __future__ import annotations

import base64
import math
from collections import Counter
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
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


# What production holds each secret to: (fewest characters, most characters or
# None, fewest bits of estimated entropy). ADDON_PASSWORD's 8-72 is Heroku's
# rule for a manifest's api.password; the others are ours. The entropy floors
# sit below what random values of the shortest length score (over 2,000 draws:
# token_hex(16) >= 98, 16 random letters and digits >= 47, 8 >= 17), so any
# generated value passes (`python -c "import secrets; print(secrets.token_urlsafe(32))"`,
# or the salt and secret Heroku generates) and a repeated pattern does not.
SECRET_RULES: dict[str, tuple[int, int | None, int]] = {
    "secret_key": (32, None, 80),
    "addon_password": (8, 72, 16),
    "sso_salt": (16, None, 40),
    "heroku_oauth_secret": (16, None, 40),
}


def entropy_bits(value: str) -> float:
    """Shannon entropy of the characters times the length: an estimate that sees
    repetition ("aaaa", "abab") but not words, so it is a floor, not a grade."""
    n = len(value)
    if n == 0:
        return 0.0
    return sum(c * math.log2(n / c) for c in Counter(value).values())


def secret_problem(name: str, value: str) -> str | None:
    """What is wrong with a production secret, without showing it."""
    shortest, longest, bits = SECRET_RULES[name]
    env = name.upper()
    if len(value) < shortest:
        return f"{env} is too short: {len(value)} characters, at least {shortest}"
    if longest is not None and len(value) > longest:
        return f"{env} is too long: {len(value)} characters, at most {longest}"
    estimate = entropy_bits(value)
    if estimate < bits:
        return (
            f"{env} is too predictable: about {estimate:.0f} bits of entropy, at least {bits}"
            " (use a generated value)"
        )
    return None


def fernet_key_problems(keys: list[str]) -> list[str]:
    """Each ENCRYPTION_KEYS entry must be a Fernet key: 32 url-safe base64 bytes,
    not a hand-typed pattern (a generated key has about 150 bits by this estimate)."""
    found = []
    for n, key in enumerate(keys, 1):
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except ValueError:
            raw = b""
        if len(raw) != 32:
            found.append(f"ENCRYPTION_KEYS: key {n} is not a Fernet key (32 url-safe base64 bytes)")
        elif entropy_bits(raw.decode("latin-1")) < 96:
            found.append(f"ENCRYPTION_KEYS: key {n} is too predictable (use Fernet.generate_key())")
    return found


def public_url_problem(url: str) -> str | None:
    """PUBLIC_URL must be an origin Heroku and browsers can reach: https, a host, nothing else."""
    shown = url[:100]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return f"PUBLIC_URL has a bad port: {shown!r}"
    if parts.scheme != "https":
        return f"PUBLIC_URL must be an https:// URL in production, got {shown!r}"
    if not parts.hostname:
        return f"PUBLIC_URL must be an https:// URL with a host, got {shown!r}"
    if parts.username is not None or parts.password is not None:
        return "PUBLIC_URL must not hold a user or password"
    if port == 0:
        return f"PUBLIC_URL has a bad port: {shown!r}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"PUBLIC_URL must be only scheme, host and port, got {shown!r}"
    return None


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
    http_timeout: float = Field(default=10.0, gt=0)
    # Seconds the worker keeps an idle HTTP connection: past the longest plan's
    # poll (60 s), so each tenant's next poll reuses its broker connection
    # instead of a new TCP and TLS handshake.
    http_keepalive: float = Field(default=75.0, ge=0)
    # Largest request body we read, in bytes; Heroku's provision bodies are
    # < 4 KiB, but rules may be 64 KiB and a form encodes a byte in up to
    # three (%0A): at 64 KiB, rules the API saved were a 413 in the editor.
    max_body_bytes: int = 3 * 64 * 1024
    # Whether broker URLs may point at private, loopback or link-local addresses.
    # Unset: allowed in development (a local RabbitMQ), refused in production (SSRF).
    # Read it through `private_brokers_allowed`.
    allow_private_brokers: bool | None = None
    # Seconds to wait for PostgreSQL to answer a new connection: a host that went
    # silent (fail-over, partition) then gives 503s, not requests hung for minutes.
    database_connect_timeout: int = Field(default=5, ge=2)

    # -- the scaling worker (guvscale worker) --
    # Tenants one worker process works on at once.
    worker_concurrency: int = 50
    # Seconds one tenant's tick may take, all its calls together; each call also
    # has `worker_call_timeout`. Leases last this plus a margin, so a dead worker's
    # tenants are taken over well within two 10 s intervals.
    worker_tenant_timeout: float = Field(default=8.0, gt=0)
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
            elif name in SECRET_RULES and (problem := secret_problem(name, value)):
                found.append(problem)
            elif name == "encryption_keys":
                found.extend(fernet_key_problems(self.encryption_key_list))
        if self.database_url is None:
            found.append("DATABASE_URL is missing (embedded PostgreSQL is for development only)")
        if problem := public_url_problem(self.public_url):
            found.append(problem)
        return found

    @property
    def worker_call_timeout(self) -> float:
        """The worker's timeout for one HTTP or AMQP call: HTTP_TIMEOUT, but
        no more than half a tick, so one slow call (Heroku's, or the AMQP
        fallback's) leaves the tick time for the next; the defaults (10 s
        calls, 8 s ticks) let one call outlast the tick. The management API
        is held to a third of what is left of the tick besides."""
        return min(self.http_timeout, self.worker_tenant_timeout / 2)

    def check(self) -> None:
        """Raise ConfigError naming every problem, when running in production."""
        if self.is_production and (problems := self.problems()):
            raise ConfigError("refusing to start: " + "; ".join(problems))
