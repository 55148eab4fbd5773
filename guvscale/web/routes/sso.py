"""Heroku single sign-on: `sso_url` (`/heroku/sso`) and kensa's default `/sso/login`.

Both accept a form POST (what Heroku sends) and a GET with the same fields in
the query, in the v3 or the legacy v1 form; `services/sso.py` says which
tokens hold. Any refusal is an HTML page, with no session and nothing
stored: a 403 for a sign-in that does not hold; for a genuine one to an
add-on that cannot be shown, 503 with Retry-After while it is being set up
(or its state is one this release does not know) and 410 once it was
removed. Success replaces whatever session the browser had with one for that
resource and redirects to its page.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from guvscale.db.models import ProvisionJobState, Resource, ResourceState
from guvscale.db.scoping import scope_to
from guvscale.services import provisioning, sso_uses
from guvscale.services.fields import heroku_uuid_of
from guvscale.services.sso import (
    KNOWN_FIELDS,
    SsoClaim,
    SsoRejected,
    SsoScheme,
    check_ready,
    collect_fields,
    verify,
)
from guvscale.web.auth import PAGE_HEADERS, render_page, start_session
from guvscale.web.deps import DbDep, SettingsDep
from guvscale.web.schemas import failure, html

log = logging.getLogger("guvscale.sso")
router = APIRouter()

NAV_COOKIE = "heroku-nav-data"

Pairs = list[tuple[str, str | UploadFile]]


async def sso_pairs(request: Request) -> Pairs | None:
    """The submitted fields, or None when a POST body cannot be read as a form."""
    if request.method != "POST":
        return list(request.query_params.multi_items())
    try:
        form = await request.form(max_files=0, max_fields=64)
    except HTTPException:
        return None
    return list(form.multi_items())


def find_resource(db: Session, claim: SsoClaim) -> Resource | None:
    if claim.scheme is not SsoScheme.v1 and heroku_uuid_of(claim.ref) is None:
        return None  # v3 signs Heroku's uuid, never our id
    # v1 signs the id we answered at provisioning: ours, or Heroku's uuid if
    # the partner API ever answered with that.
    return provisioning.find_resource(db, claim.ref)


def nav_cookie(value: str, secure: bool) -> str:
    """The Set-Cookie header for nav-data, written out: Starlette's cookie writer
    would wrap base64's '/', '+' and '=' in quotes, which Heroku's script would
    read as part of the value. `value` holds only cookie-octets (services.sso).
    Read by Heroku's navigation header script, so not HttpOnly; not a secret.
    """
    return f"{NAV_COOKIE}={value}; Path=/; SameSite=Lax" + ("; Secure" if secure else "")


def refuse(request: Request, exc: SsoRejected, resource_id: str | None = None) -> Response:
    log.info(
        "sso refused",
        extra={
            "fields": {
                "event": "sso_refused",
                "reason": exc.reason,
                "field": exc.field,
                "status": exc.status,
            }
        },
    )
    context = {
        "title": exc.title,
        "message": exc.message,
        "resource_id": resource_id,
        # Opening it from Heroku again cannot help once the add-on is gone.
        "gone": exc.status == 410,
    }
    response = render_page(request, "error.html", context, status_code=exc.status)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# Documented by hand: the fields are read as raw pairs (a repeated field is refused).
_FIELDS = sorted(KNOWN_FIELDS)
_AS_FORM = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {name: {"type": "string"} for name in _FIELDS},
                }
            }
        }
    }
}
_AS_QUERY = {
    "parameters": [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in _FIELDS
    ]
}
_SIGN_IN_ANSWERS: dict[int | str, dict[str, Any]] = {
    302: {
        "description": "Signed in: on to the add-on's page.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    403: html("Sign-in refused: a page saying why; no session."),
    410: html("The add-on was removed (deprovisioned): a page saying so; no session."),
    503: failure(
        503,
        "The add-on is still being set up, or cannot be shown just now (a page saying "
        "so, no session), or the database is unreachable: try again after Retry-After "
        "seconds.",
    ),
}


def _sign_in_route(method: str, path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.api_route(
        path,
        methods=[method],
        status_code=302,
        response_class=HTMLResponse,
        tags=["sso"],
        responses=_SIGN_IN_ANSWERS,
        openapi_extra=_AS_FORM if method == "POST" else _AS_QUERY,
    )


@_sign_in_route("POST", "/heroku/sso")
@_sign_in_route("GET", "/heroku/sso")
@_sign_in_route("POST", "/sso/login")
@_sign_in_route("GET", "/sso/login")
def sso_login(
    request: Request,
    pairs: Annotated[Pairs | None, Depends(sso_pairs)],
    db: DbDep,
    settings: SettingsDep,
) -> Response:
    now = time.time()
    try:
        if pairs is None:
            raise SsoRejected("unreadable", "the sign-in form could not be read")
        claim = verify(collect_fields(pairs), settings.sso_salt, now)
        resource = find_resource(db, claim)
        if resource is None:
            raise SsoRejected("unknown_resource", "no such add-on here")
        # The token is genuine, so saying why this add-on cannot be shown tells
        # nothing to anyone else. Checked before the token is spent: once set
        # up, the same link works for the rest of its window.
        scope_to(db, resource.id)
        setup: ProvisionJobState | None = None
        if resource.state == ResourceState.provisioning:
            setup = provisioning.setup_state(db, resource.id)
        if resource.state == ResourceState.unknown or setup == ProvisionJobState.unknown:
            log.warning("sso for add-on %s, whose state this release does not know", resource.id)
        check_ready(resource.state, setup)
    except SsoRejected as exc:
        return refuse(request, exc)

    if not sso_uses.first_use(db, claim, now):
        # The token was genuine, so naming the resource's page tells nothing new;
        # a browser that used it a moment ago (double click, back button) is
        # still signed in there.
        used = SsoRejected("replayed", "this sign-in link was already used")
        return refuse(request, used, resource_id=resource.id)

    if claim.app and claim.app != resource.app_name:
        resource.app_name = claim.app
    start_session(
        request,
        db,
        resource_id=resource.id,
        email=claim.email,
        user_id=claim.user_id,
        sso=claim.scheme.value,
        now=now,
    )
    response = RedirectResponse(f"/resources/{quote(resource.id, safe='')}", status_code=302)
    response.headers.update(PAGE_HEADERS)
    if claim.nav_data:
        response.headers.append("set-cookie", nav_cookie(claim.nav_data, settings.is_production))
    log.info(
        "sso signed in",
        extra={"fields": {"event": "sso_signed_in", "resource": resource.id, "sso": claim.scheme}},
    )
    return response
