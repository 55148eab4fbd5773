"""What the fake Heroku knows, and the knobs a test turns.

One FakeState is shared by the server thread and the test thread, so every
read-modify-write happens under `lock`. Time is the fake's own clock (real
time plus `advance()`), so tests can expire grants and tokens without sleeping.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl

# The add-on manifest's config vars: Heroku refuses any other name.
MANIFEST_CONFIG_VARS = ("GUVSCALE_ID", "GUVSCALE_TOKEN", "GUVSCALE_URL")
ADDON_SLUG = "guvscale"
# Same value as tests.web_fixtures.make_settings(): the app under test finds the fake agreeable.
CLIENT_SECRET = "test-oauth-secret"
ACCESS_TOKEN_LIFETIME = 28799  # seconds, as id.heroku.com answers
GRANT_LIFETIME = 300
RATE_LIMIT_BUDGET = 4500

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
PROCESS_TYPE = re.compile(r"^[-\w]{1,128}$")

# Dyno sizes by lower-case name: (display name, most dynos per process type).
# Eco and Basic run at most one per type; the others are Heroku's default caps.
DYNO_SIZES: dict[str, tuple[str, int]] = {
    "eco": ("Eco", 1),
    "basic": ("Basic", 1),
    "standard-1x": ("Standard-1X", 100),
    "standard-2x": ("Standard-2X", 100),
    "performance-m": ("Performance-M", 10),
    "performance-l": ("Performance-L", 10),
}

_NAMESPACE = uuid.UUID("6f1c52a4-6f0b-4c43-9d54-2f1b6c1a7e11")


def stable_id(*parts: str) -> str:
    """The same uuid for the same name, so answers are reproducible."""
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def heroku_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def size_info(name: str) -> tuple[str, int] | None:
    return DYNO_SIZES.get(name.lower())


@dataclass
class FakeProcess:
    type: str
    quantity: int
    size: str  # display name, e.g. "Standard-1X"
    command: str
    id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class FakeApp:
    name: str
    id: str
    owner: str | None  # user id; None lets any valid user token in
    formation: dict[str, FakeProcess] = field(default_factory=dict)
    # Per-size caps replacing DYNO_SIZES' defaults, by lower-case size name.
    limits: dict[str, int] = field(default_factory=dict)
    # The app's own config vars (GET /apps/{app}/config-vars), e.g. CLOUDAMQP_URL.
    config_vars: dict[str, str] = field(default_factory=dict)

    def limit_for(self, size: str) -> int:
        info = size_info(size)
        return self.limits.get(size.lower(), info[1] if info else 100)

    def quantities(self) -> dict[str, int]:
        return {t: p.quantity for t, p in self.formation.items()}


@dataclass
class FakeAddOn:
    id: str
    name: str
    app: str  # app name
    plan: str
    state: Literal["provisioning", "provisioned", "deprovisioned"]
    provider_id: str
    created_at: datetime
    updated_at: datetime
    config: dict[str, str] = field(default_factory=dict)
    provision_calls: int = 0


@dataclass
class FakeGrant:
    code: str
    addon_id: str
    user_id: str
    expires_at: datetime
    used: bool = False

    def as_oauth_grant(self) -> dict[str, str]:
        """The `oauth_grant` object of a provision request, as Heroku writes it."""
        return {
            "code": self.code,
            "expires_at": self.expires_at.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "type": "authorization_code",
        }


@dataclass
class FakeToken:
    token: str
    user_id: str
    kind: Literal["user", "partner"]
    addon_id: str | None = None  # partner tokens act on one add-on
    expires_at: datetime | None = None  # user tokens from authorizations:create do not expire
    revoked: bool = False


@dataclass
class FakeRefreshToken:
    token: str
    user_id: str
    addon_id: str
    revoked: bool = False


@dataclass
class FakeAccount:
    user_id: str
    email: str
    rate_remaining: int = RATE_LIMIT_BUDGET
    suspended: bool = False
    delinquent: bool = False


@dataclass
class Fault:
    """An injected failure for the next `remaining` matching requests."""

    kind: Literal["status", "hang"]
    remaining: int
    status: int = 503
    error_id: str | None = None
    retry_after: float | None = None
    seconds: float = 30.0
    apply: bool = False  # hang: process the request after the pause (answer lost, effect kept)
    method: str | None = None
    path: str | None = None  # substring of the request path

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (
            self.path is None or self.path in path
        )


@dataclass
class ReceivedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int | None = None  # filled in once answered
    response: Any = None  # the JSON the fake answered with
    request_id: str | None = None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


class FakeState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.release = threading.Event()
        # Called (under `lock`, on the server's thread) after a PATCH changed a
        # formation; they must only take note. The formation runner is one. Kept by reset().
        self.formation_listeners: list[Callable[[], None]] = []
        self.reset()

    def reset(self) -> None:
        """Forget everything; let go of any request still hanging."""
        with self.lock:
            self.release_held()
            self.client_secret = CLIENT_SECRET
            self.clock_offset = timedelta()
            self.accounts: dict[str, FakeAccount] = {}
            self.tokens: dict[str, FakeToken] = {}
            self.refresh_tokens: dict[str, FakeRefreshToken] = {}
            self.grants: dict[str, FakeGrant] = {}
            self.apps: dict[str, FakeApp] = {}
            self.addons: dict[str, FakeAddOn] = {}
            self.faults: list[Fault] = []
            self.requests: list[ReceivedRequest] = []
            self.default_rate_remaining = RATE_LIMIT_BUDGET
            # UNCONFIRMED whether a partner token may scale: the fake says no unless told.
            self.partner_tokens_may_scale = False

    # -- clock ----------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += timedelta(seconds=seconds)

    # -- accounts and tokens --------------------------------------------------

    def add_account(self, user_id: str | None = None, *, email: str | None = None) -> FakeAccount:
        with self.lock:
            user_id = user_id or str(uuid.uuid4())
            if user_id not in self.accounts:
                self.accounts[user_id] = FakeAccount(
                    user_id=user_id,
                    email=email or f"user-{user_id[:8]}@example.com",
                    rate_remaining=self.default_rate_remaining,
                )
            return self.accounts[user_id]

    def add_user_token(self, token: str | None = None, *, user_id: str | None = None) -> str:
        """A long-lived user token, as `heroku authorizations:create` makes."""
        with self.lock:
            account = self.add_account(user_id)
            token = token or f"user-{secrets.token_hex(16)}"
            self.tokens[token] = FakeToken(token=token, user_id=account.user_id, kind="user")
            return token

    def issue_partner_token(self, user_id: str, addon_id: str) -> FakeToken:
        """A partner access token scoped to one add-on, good for ACCESS_TOKEN_LIFETIME."""
        with self.lock:
            token = FakeToken(
                token=f"partner-{secrets.token_hex(16)}",
                user_id=user_id,
                kind="partner",
                addon_id=addon_id,
                expires_at=self.now() + timedelta(seconds=ACCESS_TOKEN_LIFETIME),
            )
            self.tokens[token.token] = token
            return token

    def issue_refresh_token(self, user_id: str, addon_id: str) -> FakeRefreshToken:
        with self.lock:
            refresh = FakeRefreshToken(f"refresh-{secrets.token_hex(16)}", user_id, addon_id)
            self.refresh_tokens[refresh.token] = refresh
            return refresh

    def partner_tokens(self, addon_id: str) -> list[str]:
        """Access tokens issued for an add-on, oldest first."""
        with self.lock:
            return [
                t.token
                for t in self.tokens.values()
                if t.kind == "partner" and t.addon_id == addon_id
            ]

    def revoke(self, token: str) -> None:
        """Revoke an access or refresh token, as a user removing the add-on's access would."""
        with self.lock:
            if token in self.refresh_tokens:
                self.refresh_tokens[token].revoked = True
            else:
                self.tokens[token].revoked = True

    def account_of(self, token: str) -> FakeAccount:
        with self.lock:
            return self.accounts[self.tokens[token].user_id]

    def set_rate_limit(self, remaining: int, *, user_id: str | None = None) -> None:
        """Request tokens left for one account, or for every account (and new ones)."""
        with self.lock:
            if user_id is not None:
                self.accounts[user_id].rate_remaining = remaining
                return
            self.default_rate_remaining = remaining
            for account in self.accounts.values():
                account.rate_remaining = remaining

    # -- apps, add-ons, grants ------------------------------------------------

    def add_app(
        self,
        name: str,
        formation: Mapping[str, int | tuple[int, str]] | None = None,
        *,
        size: str = "Standard-1X",
        owner: str | None = None,
    ) -> FakeApp:
        """An app with process types: {"worker": 2} or {"worker": (1, "Eco")}."""
        if not APP_NAME.match(name):
            raise ValueError(f"Heroku would not accept the app name {name!r}")
        with self.lock:
            now = self.now()
            app = FakeApp(name=name, id=stable_id("app", name), owner=owner)
            for kind, spec in (formation if formation is not None else {"web": 1}).items():
                if not PROCESS_TYPE.match(kind):
                    raise ValueError(f"Heroku would not accept the process type {kind!r}")
                quantity, kind_size = spec if isinstance(spec, tuple) else (spec, size)
                info = size_info(kind_size)
                if info is None:
                    raise ValueError(f"unknown dyno size {kind_size!r}")
                app.formation[kind] = FakeProcess(
                    type=kind,
                    quantity=quantity,
                    size=info[0],
                    command=f"python -m {kind}",
                    id=stable_id("formation", name, kind),
                    created_at=now,
                    updated_at=now,
                )
            self.apps[name] = app
            return app

    def find_app(self, identity: str) -> FakeApp | None:
        with self.lock:
            return self.apps.get(identity) or next(
                (a for a in self.apps.values() if a.id == identity), None
            )

    def add_addon(
        self,
        app: str,
        *,
        addon_id: str | None = None,
        name: str | None = None,
        plan: str = "test",
        state: Literal["provisioning", "provisioned", "deprovisioned"] = "provisioning",
    ) -> FakeAddOn:
        with self.lock:
            if app not in self.apps:
                self.add_app(app, {})
            addon_id = addon_id or str(uuid.uuid4())
            now = self.now()
            addon = FakeAddOn(
                id=addon_id,
                name=name or f"{app}-{ADDON_SLUG}-{addon_id[:8]}",
                app=app,
                plan=plan,
                state=state,
                provider_id="",
                created_at=now,
                updated_at=now,
            )
            self.addons[addon_id] = addon
            return addon

    def find_addon(self, identity: str) -> FakeAddOn | None:
        with self.lock:
            return self.addons.get(identity) or next(
                (a for a in self.addons.values() if a.name == identity), None
            )

    def add_grant(
        self,
        addon_id: str,
        *,
        code: str | None = None,
        user_id: str | None = None,
        expires_in: float = GRANT_LIFETIME,
    ) -> FakeGrant:
        with self.lock:
            account = self.add_account(user_id)
            grant = FakeGrant(
                code=code or str(uuid.uuid4()),
                addon_id=addon_id,
                user_id=account.user_id,
                expires_at=self.now() + timedelta(seconds=expires_in),
            )
            self.grants[grant.code] = grant
            return grant

    def start_provisioning(
        self, app: str = "acme-app", *, plan: str = "test", addon_id: str | None = None
    ) -> tuple[FakeAddOn, FakeGrant]:
        """What Heroku holds when it sends an async provision: an add-on and its grant."""
        with self.lock:
            addon = self.add_addon(app, addon_id=addon_id, plan=plan)
            return addon, self.add_grant(addon.id)

    def formation_changed(self) -> None:
        with self.lock:
            for listener in list(self.formation_listeners):
                listener()

    # -- failures -------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        *,
        error_id: str | None = None,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next `count` matching requests with `status`, before any check."""
        with self.lock:
            self.faults.append(
                Fault(
                    kind="status",
                    remaining=count,
                    status=status,
                    error_id=error_id,
                    retry_after=retry_after,
                    method=method,
                    path=path,
                )
            )

    def hang_next(
        self,
        count: int = 1,
        *,
        seconds: float = 30.0,
        apply: bool = False,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Hold the next `count` matching requests for `seconds` (a client timeout).

        With apply=True the request then takes effect anyway, as when Heroku did
        the work but the answer never arrived. reset() lets go of held requests.
        """
        with self.lock:
            self.faults.append(
                Fault(
                    kind="hang",
                    remaining=count,
                    seconds=seconds,
                    apply=apply,
                    method=method,
                    path=path,
                )
            )

    def release_held(self) -> None:
        """Let every request held by hang_next go on now."""
        with self.lock:
            self.release.set()
            self.release = threading.Event()

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
            return None

    # -- what was received ----------------------------------------------------

    def requests_to(
        self, method: str | None = None, path: str | None = None
    ) -> list[ReceivedRequest]:
        """Received requests, filtered by method and exact path."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]
