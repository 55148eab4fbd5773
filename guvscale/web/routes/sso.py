"""Heroku single sign-on: `sso_url` (`/heroku/sso`) and kensa's default `/sso/login`.

Both accept a form POST (what Heroku sends) and a GET with the same fields in
the query, in the v3 or the legacy v1 form; `services/sso.py` says which
tokens hold. Any refusal is a 403 HTML page, with no session and nothing
stored. Success replaces whatever session the browser had with one for that
resource and redirects to its page.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from guvscale.db.models import Resource, ResourceState
from guvscale.db.scoping import scope_to
from guvscale.services import provisioning, sso_uses
from guvscale.services.fields import heroku_uuid_of
from guvscale.services.sso import (
    SsoClaim,
    SsoRejected,
    SsoScheme,
    collect_fields,
    verify,
)
from guvscale.web.auth import PAGE_HEADERS, render_page, start_session
from guvscale.web.deps import DbDep, SettingsDep

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
        extra={"fields": {"event": "sso_refused", "reason": exc.reason, "field": exc.field}},
    )
    context = {"title": "Sign-in refused", "message": exc.message, "resource_id": resource_id}
    return render_page(request, "error.html", context, status_code=403)


@router.api_route("/heroku/sso", methods=["GET", "POST"], include_in_schema=False)
@router.api_route("/sso/login", methods=["GET", "POST"], include_in_schema=False)
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
        if resource.state != ResourceState.provisioned:
            raise SsoRejected(
                "not_provisioned", f"this add-on is {resource.state.value}, not provisioned"
            )
    except SsoRejected as exc:
        return refuse(request, exc)

    if not sso_uses.first_use(db, claim, now):
        # The token was genuine, so naming the resource's page tells nothing new;
        # a browser that used it a moment ago (double click, back button) is
        # still signed in there.
        used = SsoRejected("replayed", "this sign-in link was already used")
        return refuse(request, used, resource_id=resource.id)

    scope_to(db, resource.id)
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
