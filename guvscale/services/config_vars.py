"""The config vars an add-on gets, and how its GUVSCALE_TOKEN is made.

The token is HMAC-SHA256(SECRET_KEY, "guvscale-token:v1:" + our id): our id is
random, so the token is unguessable without SECRET_KEY, and it can be derived
again. That is what lets a repeated provision (Heroku delivers at least once)
answer with the same config while the database keeps only sha256(token).

Trade-off: whoever holds SECRET_KEY can derive every token (SECRET_KEY already
signs sessions, so it is guarded as the master secret). Rotating SECRET_KEY does
not break issued tokens, which are checked against the stored hash; only a
later repeated provision would derive a new token, and then the stored hash
follows it (see provisioning.provision).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field

CONFIG_VARS = ("GUVSCALE_ID", "GUVSCALE_TOKEN", "GUVSCALE_URL")
_TOKEN_CONTEXT = b"guvscale-token:v1:"


def token_hash(token: str) -> str:
    """What the database keeps of a token: sha256 hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ConfigIssuer:
    secret_key: str = field(repr=False)
    public_url: str

    def token_for(self, resource_id: str) -> str:
        mac = hmac.new(self.secret_key.encode(), _TOKEN_CONTEXT + resource_id.encode(), "sha256")
        # 32 bytes, url-safe, like secrets.token_urlsafe(32).
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def config_for(self, resource_id: str) -> dict[str, str]:
        return {
            "GUVSCALE_ID": resource_id,
            "GUVSCALE_TOKEN": self.token_for(resource_id),
            "GUVSCALE_URL": self.public_url.rstrip("/"),
        }
