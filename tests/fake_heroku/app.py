"""The fake's HTTP face: id.heroku.com's /oauth/token and the api.heroku.com routes we use.

Its checks are written from ../shared/heroku-addon-api.md, not from the
schema file, so the fake runs where ../shared is absent;
tests/test_fake_heroku_contract.py holds them to the schema.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from tests.fake_heroku.state import (
    ACCESS_TOKEN_LIFETIME,
    ADDON_SLUG,
    DYNO_SIZES,
    MANIFEST_CONFIG_VARS,
    PROCESS_TYPE,
    FakeAccount,
    FakeAddOn,
    FakeApp,
    FakeProcess,
    FakeState,
    FakeToken,
    ReceivedRequest,
    heroku_time,
    size_info,
    stable_id,
)

LIMITS_URL = "https://devcenter.heroku.com/articles/dyno-types#default-scaling-limits"


class FakeError(Exception):
    def __init__(self, status: int, id: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"id": id, "message": message, **extra}


@dataclass
class Call:
    """One request on its way through a handler."""

    state: FakeState
    params: dict[str, str]
    body: bytes
    headers: dict[str, str]
    token: FakeToken | None = None
    account: FakeAccount | None = None

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise FakeError(400, "bad_request", "Request body is not valid JSON.") from None


Handler = Callable[[Call], tuple[int, Any]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. /apps/{app}/formation
    handler: Handler
    link: tuple[str, str] | None  # (schema definition, link title) it stands for
    free: bool = False  # costs no rate-limit token

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


# -- id.heroku.com ----------------------------------------------------------


def oauth_token(call: Call) -> tuple[int, Any]:
    if not call.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise FakeError(400, "bad_request", "Send the token request as a form.")
    form = ReceivedRequest("POST", "", "", {}, call.body).form
    state = call.state
    # Every credential failure gets the same answer, so it tells a prober nothing.
    if form.get("client_secret") != state.client_secret:
        raise FakeError(401, "unauthorized", "Invalid OAuth client credentials.")
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        if not form.get("code"):
            raise FakeError(400, "bad_request", "Missing code.")
        grant = state.grants.get(form["code"])
        if grant is None or grant.used or grant.expires_at <= state.now():
            raise FakeError(401, "unauthorized", "Invalid, expired or used authorization code.")
        grant.used = True
        refresh = state.issue_refresh_token(grant.user_id, grant.addon_id)
    elif grant_type == "refresh_token":
        if not form.get("refresh_token"):
            raise FakeError(400, "bad_request", "Missing refresh_token.")
        found = state.refresh_tokens.get(form["refresh_token"])
        if found is None or found.revoked:
            raise FakeError(401, "unauthorized", "Invalid refresh token.")
        refresh = found
    else:
        raise FakeError(
            400, "bad_request", "grant_type must be authorization_code or refresh_token."
        )
    token = state.issue_partner_token(refresh.user_id, refresh.addon_id)
    return 200, {
        "access_token": token.token,
        "refresh_token": refresh.token,
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "token_type": "Bearer",
        "user_id": token.user_id,
        "session_nonce": None,
    }


# -- api.heroku.com: the gate every call passes ------------------------------

VERSION_MESSAGE = (
    "Please specify a version along with Heroku's API MIME type. "
    "For example, `Accept: application/vnd.heroku+json; version=3`."
)


def accepts_v3(accept: str) -> bool:
    for part in accept.split(","):
        fields = [f.strip().lower() for f in part.split(";")]
        if fields[0] == "application/vnd.heroku+json" and any(
            f.replace(" ", "") == "version=3" for f in fields[1:]
        ):
            return True
    return False


def admit(call: Call, route: Route) -> None:
    """Version, token, account standing and rate limit, in that order."""
    state = call.state
    if not accepts_v3(call.headers.get("accept", "")):
        raise FakeError(400, "missing_version", VERSION_MESSAGE)
    scheme, _, value = call.headers.get("authorization", "").partition(" ")
    token = state.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if (
        token is None
        or token.revoked
        or (token.expires_at is not None and token.expires_at <= state.now())
    ):
        raise FakeError(401, "unauthorized", "Invalid credentials provided.")
    call.token = token
    call.account = account = state.accounts[token.user_id]
    if account.suspended:
        raise FakeError(403, "suspended", "This account has been suspended.")
    if account.delinquent:
        raise FakeError(402, "delinquent", "This account is delinquent; please pay the balance.")
    if route.free:
        return
    if account.rate_remaining <= 0:
        raise FakeError(
            429,
            "rate_limit",
            "Your account reached the API rate limit. "
            "Please wait a few minutes before making new requests.",
        )
    account.rate_remaining -= 1


# -- formation --------------------------------------------------------------


def formation_json(app: FakeApp, process: FakeProcess) -> dict[str, Any]:
    return {
        "app": {"id": app.id, "name": app.name},
        "command": process.command,
        "created_at": heroku_time(process.created_at),
        "dyno_size": {"id": stable_id("dyno-size", process.size.lower()), "name": process.size},
        "id": process.id,
        "quantity": process.quantity,
        "size": process.size,
        "type": process.type,
        "updated_at": heroku_time(process.updated_at),
    }


def app_for_scaling(call: Call) -> FakeApp:
    token = call.token
    assert token is not None
    if token.kind == "partner" and not call.state.partner_tokens_may_scale:
        raise FakeError(403, "forbidden", "This token may not act on formations.")
    app = call.state.find_app(call.params["app"])
    if app is None:
        raise FakeError(404, "not_found", "Couldn't find that app.")
    if app.owner is not None and app.owner != token.user_id:
        raise FakeError(403, "forbidden", f"You do not have access to the app {app.name}.")
    return app


def process_of(app: FakeApp, kind: str) -> FakeProcess:
    process = app.formation.get(kind) or next(
        (p for p in app.formation.values() if p.id == kind), None
    )
    if process is None:
        raise FakeError(404, "not_found", f"Couldn't find that process type ({kind}).")
    return process


def list_formation(call: Call) -> tuple[int, Any]:
    app = app_for_scaling(call)
    return 200, [formation_json(app, p) for p in app.formation.values()]


def formation_info(call: Call) -> tuple[int, Any]:
    app = app_for_scaling(call)
    return 200, formation_json(app, process_of(app, call.params["type"]))


def invalid(message: str) -> FakeError:
    return FakeError(422, "invalid_params", message)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def checked_change(item: dict[str, Any], where: str) -> tuple[int | None, str | None]:
    """Quantity and dyno size of one update, checked for shape only."""
    quantity = item.get("quantity")
    # A negative count has no meaning; Heroku's scaling limits start at zero.
    if "quantity" in item and (not is_int(quantity) or quantity < 0):
        raise invalid(f"{where}quantity must be a non-negative integer.")
    if "dyno_size" not in item:
        return quantity, None
    dyno_size = item["dyno_size"]
    named = (
        {k: dyno_size[k] for k in ("id", "name") if k in dyno_size}
        if isinstance(dyno_size, dict)
        else {}
    )
    if not named or not all(isinstance(v, str) for v in named.values()):
        raise invalid(f"{where}dyno_size must be an object with an id or a name (strings).")
    if "id" in named and not is_uuid(named["id"]):
        raise invalid(f"{where}dyno_size.id must be a uuid.")
    return quantity, named.get("name", named.get("id"))


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_SIZES_BY_ID = {stable_id("dyno-size", name): info for name, info in DYNO_SIZES.items()}

Plan = tuple[FakeProcess, int, str]


def plan_change(app: FakeApp, process: FakeProcess, quantity: int | None, size: str | None) -> Plan:
    """The new (quantity, size) of a process, or the error Heroku would give."""
    new_size = process.size
    if size is not None:
        info = size_info(size) or _SIZES_BY_ID.get(size)
        if info is None:
            raise invalid(f"No such dyno size: {size}.")
        new_size = info[0]
    new_quantity = process.quantity if quantity is None else quantity
    limit = app.limit_for(new_size)
    if new_quantity > limit:
        raise FakeError(
            422,
            "cannot_run_above_limit",
            f"Cannot run more than {limit} {new_size} dynos for process type {process.type}.",
            limit=limit,
            url=LIMITS_URL,
        )
    return process, new_quantity, new_size


def commit(plans: list[Plan], call: Call) -> None:
    now = call.state.now()
    for process, quantity, size in plans:
        process.quantity, process.size, process.updated_at = quantity, size, now
    call.state.formation_changed()


UPDATE_FIELDS = {"type", "quantity", "dyno_size"}


def batch_update(call: Call) -> tuple[int, Any]:
    app = app_for_scaling(call)
    body = call.json()
    if not isinstance(body, dict) or not isinstance(body.get("updates"), list):
        raise invalid("The body must be an object with an `updates` array.")
    changes = []
    for i, item in enumerate(body["updates"]):
        where = f"updates[{i}]."
        if not isinstance(item, dict):
            raise invalid(f"updates[{i}] must be an object.")
        if unknown := sorted(set(item) - UPDATE_FIELDS):
            raise invalid(f"{where} unknown field(s): {', '.join(unknown)}.")
        kind = item.get("type")
        if not isinstance(kind, str) or not PROCESS_TYPE.match(kind):
            raise invalid(f"{where}type must be a process type name.")
        changes.append((kind, *checked_change(item, where)))
    # All or nothing: every update is checked before any is applied.
    plans = [plan_change(app, process_of(app, k), q, s) for k, q, s in changes]
    commit(plans, call)
    updated = {p.type: p for p, _, _ in plans}.values()
    return 200, [formation_json(app, p) for p in updated]


def update_one(call: Call) -> tuple[int, Any]:
    app = app_for_scaling(call)
    process = process_of(app, call.params["type"])
    body = call.json()
    if not isinstance(body, dict):
        raise invalid("The body must be an object.")
    plan = plan_change(app, process, *checked_change(body, ""))
    commit([plan], call)
    return 200, formation_json(app, process)


# -- add-ons (partner token) --------------------------------------------------


def addon_json(state: FakeState, addon: FakeAddOn) -> dict[str, Any]:
    app = state.apps[addon.app]
    return {
        "actions": [],
        "addon_service": {"id": stable_id("addon-service", ADDON_SLUG), "name": ADDON_SLUG},
        "billing_entity": {"id": app.id, "name": app.name, "type": "app"},
        "app": {"id": app.id, "name": app.name},
        "billed_price": {"cents": 0, "contract": False, "unit": "month"},
        "config_vars": sorted(addon.config),
        "created_at": heroku_time(addon.created_at),
        "id": addon.id,
        "name": addon.name,
        "plan": {"id": stable_id("plan", addon.plan), "name": f"{ADDON_SLUG}:{addon.plan}"},
        "provider_id": addon.provider_id,
        "state": addon.state,
        "updated_at": heroku_time(addon.updated_at),
        "web_url": None,
    }


def config_json(addon: FakeAddOn) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(addon.config.items())]


def addon_for(call: Call, *, partner_only: bool) -> FakeAddOn:
    addon = call.state.find_addon(call.params["addon"])
    if addon is None or addon.state == "deprovisioned":
        raise FakeError(404, "not_found", "Couldn't find that add-on.")
    token = call.token
    assert token is not None
    if token.kind == "partner":
        if token.addon_id != addon.id:
            raise FakeError(403, "forbidden", "This token is for another add-on.")
    elif partner_only:
        raise FakeError(403, "forbidden", "Only the add-on's provider may do this.")
    else:
        app = call.state.apps[addon.app]
        if app.owner is not None and app.owner != token.user_id:
            raise FakeError(403, "forbidden", f"You do not have access to the app {app.name}.")
    return addon


def list_config(call: Call) -> tuple[int, Any]:
    return 200, config_json(addon_for(call, partner_only=False))


def update_config(call: Call) -> tuple[int, Any]:
    addon = addon_for(call, partner_only=True)
    body = call.json()
    if not isinstance(body, dict):
        raise invalid("The body must be an object.")
    items = body.get("config", [])
    if not isinstance(items, list):
        raise invalid("`config` must be an array of {name, value}.")
    changes: dict[str, str | None] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "value" not in item:
            raise invalid(f"config[{i}] must be an object with a name and a value.")
        name, value = item.get("name"), item["value"]
        if not isinstance(name, str) or not (value is None or isinstance(value, str)):
            raise invalid(f"config[{i}]: name must be a string, value a string or null.")
        if name not in MANIFEST_CONFIG_VARS:
            raise invalid(
                f"Config var {name} is not in the add-on manifest "
                f"({', '.join(MANIFEST_CONFIG_VARS)})."
            )
        changes[name] = value
    for name, value in changes.items():
        if value is None:
            addon.config.pop(name, None)
        else:
            addon.config[name] = value
    addon.updated_at = call.state.now()
    return 200, config_json(addon)


def provision(call: Call) -> tuple[int, Any]:
    addon = addon_for(call, partner_only=True)
    addon.state = "provisioned"
    addon.provision_calls += 1
    addon.updated_at = call.state.now()
    return 200, addon_json(call.state, addon)


def account_info(call: Call) -> tuple[int, Any]:
    account = call.account
    assert account is not None
    created = heroku_time(call.state.now())
    return 200, {
        "allow_tracking": True,
        "beta": False,
        "created_at": created,
        "email": account.email,
        "federated": False,
        "id": account.user_id,
        "last_login": created,
        "name": None,
        "sms_number": None,
        "suspended_at": None,
        "delinquent_at": None,
        "two_factor_authentication": False,
        "updated_at": created,
        "verified": True,
        "default_organization": None,
        "default_team": None,
    }


def addon_info(call: Call) -> tuple[int, Any]:
    return 200, addon_json(call.state, addon_for(call, partner_only=False))


def app_config_vars(call: Call) -> tuple[int, Any]:
    token = call.token
    assert token is not None
    app = call.state.find_app(call.params["app"])
    if app is None:
        raise FakeError(404, "not_found", "Couldn't find that app.")
    # Partner tokens see only their add-on's config; an app's vars need its owner.
    if token.kind == "partner" or (app.owner is not None and app.owner != token.user_id):
        raise FakeError(403, "forbidden", f"You do not have access to the app {app.name}.")
    return 200, dict(app.config_vars)


def rate_limits(call: Call) -> tuple[int, Any]:
    assert call.account is not None
    return 200, {"remaining": call.account.rate_remaining}


ROUTES = [
    Route("POST", "/oauth/token", oauth_token, link=None),
    Route("GET", "/account/rate-limits", rate_limits, ("rate-limit", "Info"), free=True),
    Route("GET", "/account", account_info, ("account", "Info")),
    Route("GET", "/addons/{addon}", addon_info, ("add-on", "Info")),
    Route("GET", "/apps/{app}/config-vars", app_config_vars, ("config-var", "Info for App")),
    Route("GET", "/apps/{app}/formation", list_formation, ("formation", "List")),
    Route("PATCH", "/apps/{app}/formation", batch_update, ("formation", "Batch Update")),
    Route("GET", "/apps/{app}/formation/{type}", formation_info, ("formation", "Info")),
    Route("PATCH", "/apps/{app}/formation/{type}", update_one, ("formation", "Update")),
    Route("GET", "/addons/{addon}/config", list_config, ("add-on-config", "List")),
    Route("PATCH", "/addons/{addon}/config", update_config, ("add-on-config", "Update")),
    Route(
        "POST",
        "/addons/{addon}/actions/provision",
        provision,
        ("add-on-action", "Provision"),
    ),
]


def dispatch(
    state: FakeState, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, Any, FakeAccount | None]:
    call = Call(state, {}, body, headers)
    with state.lock:
        try:
            for route in ROUTES:
                found = route.pattern.match(path)
                if found and route.method == method:
                    call.params = found.groupdict()
                    if route.link is not None:
                        admit(call, route)
                    status, payload = route.handler(call)
                    return status, payload, call.account
            raise FakeError(404, "not_found", f"No route for {method} {path}.")
        except FakeError as error:
            return error.status, error.body, call.account


# -- ASGI ---------------------------------------------------------------------


async def hold(state: FakeState, seconds: float) -> None:
    release = state.release
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not release.is_set():
        await asyncio.sleep(0.01)


def fault_body(status: int, error_id: str | None) -> dict[str, str]:
    if status == 429:
        return {
            "id": error_id or "rate_limit",
            "message": "Your account reached the API rate limit.",
        }
    return {"id": error_id or "service_unavailable", "message": f"Injected failure ({status})."}


async def handle(request: Request) -> Response:
    state: FakeState = request.app.state.fake
    body = await request.body()
    method, path = request.method, request.url.path
    headers = {k.lower(): v for k, v in request.headers.items()}
    received = ReceivedRequest(method, path, request.url.query, headers, body)
    received.request_id = str(uuid.uuid4())
    with state.lock:
        state.requests.append(received)
    fault = state.take_fault(method, path)
    extra: dict[str, str] = {}
    account: FakeAccount | None = None
    if fault is not None and fault.kind == "hang":
        await hold(state, fault.seconds)
    if fault is None or (fault.kind == "hang" and fault.apply):
        status, payload, account = dispatch(state, method, path, headers, body)
    else:
        status = fault.status if fault.kind == "status" else 503
        payload = fault_body(status, fault.error_id)
        if fault.retry_after is not None:
            extra["Retry-After"] = str(fault.retry_after)
    received.status, received.response = status, payload
    extra["Request-Id"] = received.request_id
    if account is not None:
        extra["RateLimit-Remaining"] = str(account.rate_remaining)
    return JSONResponse(payload, status_code=status, headers=extra)


def create_app(state: FakeState) -> Starlette:
    app = Starlette(
        routes=[
            StarletteRoute(
                "/{path:path}", handle, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]
            )
        ]
    )
    app.state.fake = state
    return app
