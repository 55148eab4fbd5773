"""Adapters for the two Heroku APIs we call: id.heroku.com and api.heroku.com.

Callers inject the httpx.Client (so tests can mock it and the app can share
one connection pool); every failure comes out as a HerokuError subclass.
"""

from guvscale.heroku.errors import (
    HerokuAuthError,
    HerokuError,
    HerokuNotFound,
    HerokuPaymentRequired,
    HerokuRateLimited,
    HerokuRejected,
    HerokuUnavailable,
)
from guvscale.heroku.identity import HerokuIdentity, TokenSet
from guvscale.heroku.platform import Account, AddOn, Formation, HerokuPlatform

__all__ = [
    "Account",
    "AddOn",
    "Formation",
    "HerokuAuthError",
    "HerokuError",
    "HerokuIdentity",
    "HerokuNotFound",
    "HerokuPaymentRequired",
    "HerokuPlatform",
    "HerokuRateLimited",
    "HerokuRejected",
    "HerokuUnavailable",
    "TokenSet",
]
