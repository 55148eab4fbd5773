"""id.heroku.com: turn a provisioning grant into partner tokens, and refresh them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx

from guvscale.clock import utcnow
from guvscale.heroku._http import Timeout, bad_shape, read_json, send

Clock = Callable[[], datetime]
# Heroku's partner tokens live 8 hours; an answer claiming over a year is wrong.
MAX_TOKEN_LIFETIME_S = 366 * 24 * 3600


utc_now = utcnow


@dataclass(frozen=True)
class TokenSet:
    # Kept out of repr so a logged TokenSet shows no secret.
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    user_id: str | None


class HerokuIdentity:
    """`POST {base_url}/oauth/token` with the partner's OAuth client secret."""

    def __init__(
        self,
        client: httpx.Client,
        base_url: str,
        client_secret: str,
        *,
        timeout: Timeout = 10.0,
        user_agent: str = "guvscale",
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/oauth/token"
        self._secret = client_secret
        self._timeout = timeout
        self._user_agent = user_agent
        self._clock = clock
        self.last_request_id: str | None = None

    def exchange_grant(self, code: str, *, now: datetime | None = None) -> TokenSet:
        """Tokens for a provisioning `oauth_grant.code` (good for 5 minutes, once)."""
        form = {"grant_type": "authorization_code", "code": code, "client_secret": self._secret}
        return self._token(form, secrets=(code,), now=now, previous_refresh=None)

    def refresh(self, refresh_token: str, *, now: datetime | None = None) -> TokenSet:
        """A new access token; keeps `refresh_token` when Heroku sends no new one."""
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_secret": self._secret,
        }
        return self._token(form, secrets=(refresh_token,), now=now, previous_refresh=refresh_token)

    def _token(
        self,
        form: dict[str, str],
        *,
        secrets: tuple[str, ...],
        now: datetime | None,
        previous_refresh: str | None,
    ) -> TokenSet:
        # Expiry counts from before the call: never later than Heroku's own clock.
        started = now if now is not None else self._clock()
        response = send(
            self._client,
            "POST",
            self._url,
            headers={"Accept": "application/json", "User-Agent": self._user_agent},
            timeout=self._timeout,
            secrets=(*secrets, self._secret),
            form=form,
        )
        self.last_request_id = response.headers.get("Request-Id")
        body = read_json(response)
        if not isinstance(body, dict):
            raise bad_shape(response, "an OAuth token")
        access = body.get("access_token")
        refresh = body.get("refresh_token") or previous_refresh
        expires_in = body.get("expires_in")
        user_id = body.get("user_id")
        if (
            not isinstance(access, str)
            or not access
            or not isinstance(refresh, str)
            or not isinstance(expires_in, int | float)
            or isinstance(expires_in, bool)
            # NaN fails this too; out of range, the expiry could overflow or be unstorable.
            or not 0 < expires_in <= MAX_TOKEN_LIFETIME_S
        ):
            raise bad_shape(response, "an OAuth token")
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=started + timedelta(seconds=float(expires_in)),
            user_id=user_id if isinstance(user_id, str) else None,
        )
