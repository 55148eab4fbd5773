"""The signed-in pages: the overview of one resource, and signing out.

Every page of a resource lives under `/resources/{resource_id}` and takes
`PathResourceDep`, which refuses any resource but the signed-in one and scopes
the DB session to it. The sections (rules, graphs, log, cost, setup) live in
sibling routers built the same way (`web.auth.PageRoute`).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from guvscale.web.auth import (
    LoginDep,
    PageRoute,
    PathResourceDep,
    SignOutDep,
    end_session,
    render_page,
)
from guvscale.web.deps import DbDep
from guvscale.web.pages import render, shell
from guvscale.web.schemas import html

router = APIRouter(route_class=PageRoute)


@router.get(
    "/resources/{resource_id}",
    response_class=HTMLResponse,
    tags=["pages"],
    responses={
        401: html("Not signed in: a page saying where to sign in."),
        403: html("Signed in to another add-on, or this one is not provisioned."),
    },
)
def resource_page(
    request: Request, resource: PathResourceDep, login: LoginDep, db: DbDep
) -> Response:
    created = resource.created_at.astimezone(dt.UTC) if resource.created_at else None
    context = shell(db, resource, login, "overview", created=created)
    return render(request, "resource.html", context)


@router.post(
    "/logout",
    response_class=HTMLResponse,
    tags=["pages"],
    responses={403: html("The form's CSRF token is missing or wrong; still signed in.")},
)
def logout(request: Request, login: SignOutDep, db: DbDep) -> Response:
    # SameSite=Lax keeps the cookie off cross-site POSTs; the CSRF token
    # (SignOutDep) also refuses same-site forgeries and stale pages.
    if login is not None:
        end_session(request, db)
    return render_page(request, "signed_out.html", {})
