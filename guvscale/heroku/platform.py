"""api.heroku.com: read and scale formations, finish an add-on's provisioning.

Every call takes the bearer token it acts with: the app owner's token scales,
the partner token writes add-on config. The adapter remembers the last
`RateLimit-Remaining` and `Request-Id` it saw so the caller can pace and log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from guvscale.heroku._http import Timeout, bad_shape, read_json, send

ACCEPT = "application/vnd.heroku+json; version=3"

T = TypeVar("T")
C = TypeVar("C", httpx.Client, httpx.AsyncClient)


@dataclass(frozen=True)
class Formation:
    type: str
    quantity: int
    size: str | None  # dyno size name, e.g. "Standard-1X"
    id: str | None = None
    app_id: str | None = None
    app_name: str | None = None
    command: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class AddOn:
    id: str
    name: str | None
    state: str | None  # provisioning / provisioned / deprovisioned
    app_id: str | None = None  # the app it is attached to; ids survive renames
    app_name: str | None = None


@dataclass(frozen=True)
class Account:
    id: str
    email: str | None


class PlatformBase(Generic[C]):
    """What the sync and the async adapter share: where, as whom, how long, the headers."""

    def __init__(
        self,
        client: C,
        base_url: str,
        user_agent: str,
        *,
        timeout: Timeout = 10.0,
    ) -> None:
        self._client: C = client
        self._base = base_url.rstrip("/")
        self._user_agent = user_agent
        self._timeout = timeout

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Accept": ACCEPT,
            "Authorization": f"Bearer {token}",
            "User-Agent": self._user_agent,
        }


def parsed(response: httpx.Response, parse: Callable[[Any], T]) -> T:
    """The answer's JSON through `parse`; a HerokuError (502) when it has another shape."""
    try:
        return parse(read_json(response))
    except _BadShape as exc:
        raise bad_shape(response, exc.what) from None


def remaining_of(response: httpx.Response) -> int | None:
    """`RateLimit-Remaining` as a number, None when absent or not one."""
    remaining = (response.headers.get("RateLimit-Remaining") or "").strip()
    # Only ASCII digits: str.isdigit() also accepts "²", which int() refuses.
    return int(remaining) if remaining.isascii() and remaining.isdigit() else None


class HerokuPlatform(PlatformBase[httpx.Client]):
    # The last seen on this adapter (one per caller: not shared between threads).
    last_request_id: str | None = None
    last_rate_limit_remaining: int | None = None

    # -- formation --------------------------------------------------------

    def list_formation(self, token: str, app: str) -> list[Formation]:
        return self._call(token, "GET", f"/apps/{_seg(app)}/formation", parse=_formations)

    def get_formation(self, token: str, app: str, process_type: str) -> Formation:
        path = f"/apps/{_seg(app)}/formation/{_seg(process_type)}"
        return self._call(token, "GET", path, parse=_formation)

    def scale(self, token: str, app: str, quantities: Mapping[str, int]) -> list[Formation]:
        """One batch PATCH with the given types only; returns what Heroku answered.

        Pass only the process types that change (each call costs a request
        token). Nothing to change means no call and an empty list.
        """
        if not quantities:
            return []
        path = f"/apps/{_seg(app)}/formation"
        updates = batch_updates(quantities)
        return self._call(token, "PATCH", path, {"updates": updates}, parse=_formations)

    def scale_one(self, token: str, app: str, process_type: str, quantity: int) -> Formation:
        path = f"/apps/{_seg(app)}/formation/{_seg(process_type)}"
        payload = {"quantity": _checked_quantity(quantity)}
        return self._call(token, "PATCH", path, payload, parse=_formation)

    # -- add-on (partner token) -------------------------------------------

    def set_addon_config(
        self, token: str, addon_id: str, config: Mapping[str, str | None]
    ) -> dict[str, str | None]:
        """Write the add-on's config vars; returns the add-on's whole config after."""
        items = [{"name": name, "value": value} for name, value in config.items()]
        path = f"/addons/{_seg(addon_id)}/config"
        return self._call(token, "PATCH", path, {"config": items}, parse=_config)

    def mark_provisioned(self, token: str, addon_id: str) -> AddOn:
        """Tell Heroku the add-on is ready; this also releases its config to the app."""
        path = f"/addons/{_seg(addon_id)}/actions/provision"
        return self._call(token, "POST", path, parse=_addon)

    def get_addon(self, token: str, addon_id: str) -> AddOn:
        """The add-on and the app it is attached to, as the token's owner sees it."""
        return self._call(token, "GET", f"/addons/{_seg(addon_id)}", parse=_addon)

    # -- apps -------------------------------------------------------------

    def get_config_vars(self, token: str, app: str) -> dict[str, str]:
        """The app's config vars; unset ones (null) are left out."""
        return self._call(token, "GET", f"/apps/{_seg(app)}/config-vars", parse=_config_vars)

    # -- account ----------------------------------------------------------

    def get_account(self, token: str) -> Account:
        """Whose token this is; a 401 here means the token is no good."""
        return self._call(token, "GET", "/account", parse=_account)

    def rate_limit_remaining(self, token: str) -> int:
        """The account's request tokens left; this call itself costs none."""
        return self._call(token, "GET", "/account/rate-limits", parse=_remaining)

    # -- plumbing ---------------------------------------------------------

    def _call(
        self,
        token: str,
        method: str,
        path: str,
        payload: object = None,
        *,
        parse: Callable[[Any], T],
    ) -> T:
        response = send(
            self._client,
            method,
            self._base + path,
            headers=self._headers(token),
            timeout=self._timeout,
            secrets=(token,),
            json_body=payload,
            observe=self._observe,
        )
        return parsed(response, parse)

    def _observe(self, response: httpx.Response) -> None:
        self.last_request_id = response.headers.get("Request-Id") or self.last_request_id
        remaining = remaining_of(response)
        if remaining is not None:
            self.last_rate_limit_remaining = remaining


def _seg(value: str) -> str:
    # Names and ids are plain in practice; quoting keeps a stray "/" from changing the route.
    return quote(value, safe="")


def batch_updates(quantities: Mapping[str, int]) -> list[dict[str, object]]:
    """The body's `updates` of a batch formation PATCH, types in a stable order."""
    return [{"type": t, "quantity": _checked_quantity(q)} for t, q in sorted(quantities.items())]


def _checked_quantity(quantity: int) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        raise ValueError(f"quantity must be a non-negative integer, got {quantity!r}")
    return quantity


# -- reading answers: lenient about extras, strict about what we use ------


class _BadShape(Exception):
    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _formations(body: Any) -> list[Formation]:
    if not isinstance(body, list):
        raise _BadShape("a formation list")
    return [_formation(item) for item in body]


def _formation(body: Any) -> Formation:
    if not isinstance(body, dict):
        raise _BadShape("a formation")
    kind, quantity = body.get("type"), body.get("quantity")
    if not isinstance(kind, str) or not isinstance(quantity, int) or isinstance(quantity, bool):
        raise _BadShape("a formation")
    app = _dict(body.get("app"))
    dyno_size = _dict(body.get("dyno_size"))
    return Formation(
        type=kind,
        quantity=quantity,
        size=_str(dyno_size.get("name")) or _str(body.get("size")),
        id=_str(body.get("id")),
        app_id=_str(app.get("id")),
        app_name=_str(app.get("name")),
        command=_str(body.get("command")),
        updated_at=_time(body.get("updated_at")),
    )


def _config(body: Any) -> dict[str, str | None]:
    if not isinstance(body, list):
        raise _BadShape("add-on config")
    result: dict[str, str | None] = {}
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise _BadShape("add-on config")
        result[item["name"]] = _str(item.get("value"))
    return result


def _addon(body: Any) -> AddOn:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise _BadShape("an add-on")
    app = _dict(body.get("app"))
    return AddOn(
        id=body["id"],
        name=_str(body.get("name")),
        state=_str(body.get("state")),
        app_id=_str(app.get("id")),
        app_name=_str(app.get("name")),
    )


def _account(body: Any) -> Account:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise _BadShape("an account")
    return Account(id=body["id"], email=_str(body.get("email")))


def _config_vars(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise _BadShape("config vars")
    return {k: v for k, v in body.items() if isinstance(k, str) and isinstance(v, str)}


def _remaining(body: Any) -> int:
    remaining = body.get("remaining") if isinstance(body, dict) else None
    if not isinstance(remaining, int) or isinstance(remaining, bool):
        raise _BadShape("a rate limit")
    return remaining


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
