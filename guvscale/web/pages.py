"""What every dashboard page shares: its route class, the tabs, alerts and the checklist.

Dashboard routes live under `/resources/{resource_id}` and take
`PathResourceDep` (signed in to that very resource, DB session scoped to it);
forms that change anything also take `CsrfDep`. Page routers use
`auth.PageRoute` (session and CSRF refusals shown as a page).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.dashboard import queries
from guvscale.dashboard.alerts import Alert, alerts
from guvscale.db.models import Credentials, Resource, RulesVersion
from guvscale.services import records
from guvscale.web.api_auth import ErrorOut
from guvscale.web.auth import Login, PathResourceDep, render_page
from guvscale.web.guarded import check_query

# What the dashboard's JSON routes answer besides success, for OpenAPI.
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in (Heroku SSO opens a session)"},
    403: {"model": ErrorOut, "description": "signed in to another add-on, or no CSRF token"},
    422: {"model": ErrorOut, "description": "a parameter or the body is not what this takes"},
}


def _signed_in_query(request: Request, _resource: PathResourceDep) -> None:
    check_query(request)  # after the session check: a stranger learns nothing


def json_router() -> APIRouter:
    """A router for the dashboard's JSON routes: errors answer as JSON (the app's
    handlers), not as pages, and an unknown query parameter is refused."""
    return APIRouter(
        tags=["dashboard"], responses=JSON_ERRORS, dependencies=[Depends(_signed_in_query)]
    )


TABS = (
    ("overview", "Overview", ""),
    ("rules", "Rules", "/rules"),
    ("graphs", "Graphs", "/graphs"),
    ("log", "Decision log", "/log"),
    ("cost", "Cost", "/cost"),
    ("setup", "Setup", "/setup"),
)


@dataclass(frozen=True)
class Step:
    label: str
    done: bool
    hint: str
    tab: str


def checklist(db: Session, resource: Resource, last_tick: dt.datetime | None) -> list[Step]:
    creds = db.scalars(select(Credentials)).first()
    has_rules = db.scalars(select(RulesVersion.id).limit(1)).first() is not None
    token = bool(creds and creds.heroku_token_enc)
    broker = bool(creds and creds.rabbitmq_url_enc)
    return [
        Step("Heroku token", token, "give GuvScale a token to change your formation", "setup"),
        Step("RabbitMQ broker", broker, "found in your app's config vars, or given", "setup"),
        Step("Scaling rules", has_rules, "say which process types follow which queues", "rules"),
        Step("First scaling tick", last_tick is not None, "the worker reads your queues", "log"),
    ]


def shell(db: Session, resource: Resource, login: Login, tab: str, **extra: Any) -> dict[str, Any]:
    """The context every dashboard page renders with, plus `extra`."""
    status = records.status(db, resource.id)
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=24)
    found: list[Alert] = alerts(status, queries.events(db, since=since, limit=50))
    steps = checklist(db, resource, status.last_tick)
    return {
        "resource": resource,
        "login": login,
        "tab": tab,
        "tabs": TABS,
        "base": f"/resources/{resource.id}",
        "alerts": found,
        "steps": steps,
        "setup_done": all(s.done for s in steps),
        "status": status,
        **extra,
    }


def render(request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    return render_page(request, template, context, status_code=status)
