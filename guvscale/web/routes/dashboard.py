"""The signed-in pages: the overview of one resource, and signing out.

Every page of a resource lives under `/resources/{resource_id}` and takes
`PathResourceDep`, which refuses any resource but the signed-in one and scopes
the DB session to it. The sections (rules, graphs, log, cost, setup) live in
sibling routers built the same way (`web.pages.DashRoute`).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response

from guvscale.web.auth import LoginDep, PageRoute, PathResourceDep, end_session, render_page
from guvscale.web.deps import DbDep
from guvscale.web.pages import render, shell

router = APIRouter(route_class=PageRoute)


@router.get("/resources/{resource_id}", include_in_schema=False)
def resource_page(
    request: Request, resource: PathResourceDep, login: LoginDep, db: DbDep
) -> Response:
    created = resource.created_at.astimezone(dt.UTC) if resource.created_at else None
    context = shell(db, resource, login, "overview", created=created)
    return render(request, "resource.html", context)


@router.post("/logout", include_in_schema=False)
def logout(request: Request) -> Response:
    # SameSite=Lax keeps the cookie off cross-site POSTs, so no other site can sign a user out.
    end_session(request)
    return render_page(request, "signed_out.html", {})
