"""Watching the scaling: graphs per role (and their data as JSON), the decision log, cost."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from guvscale.clock import utcnow
from guvscale.dashboard import queries
from guvscale.dashboard.charts import legend, render
from guvscale.dashboard.cost import cost
from guvscale.dashboard.graphs import all_graphs
from guvscale.dashboard.rules_view import saved_roles
from guvscale.services import records
from guvscale.web.auth import LoginDep, PageRoute, PathResourceDep
from guvscale.web.deps import DbDep
from guvscale.web.pages import json_router as json_router_for_dashboard
from guvscale.web.pages import render as render_template
from guvscale.web.pages import shell

router = APIRouter(route_class=PageRoute)
json_router = json_router_for_dashboard()
RangeQuery = Annotated[str | None, Query(alias="range", max_length=8)]
LOG_PAGE = 100
MIN_SPAN_S = 120


@router.get("/resources/{resource_id}/graphs", include_in_schema=False)
def graphs_page(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    range: RangeQuery = None,
) -> Response:
    key, start, end, points = queries.window(db, range, utcnow())
    events = queries.events(db, since=start, limit=500)
    names = list(saved_roles(db, resource.id))
    # An app recorded for less than the range is drawn from its first sample (at
    # least 2 minutes wide), so a new app's first minutes are not a dot at the edge.
    first = min((pts[0].at for pts in points.values() if pts), default=start.timestamp())
    left = max(start.timestamp(), min(first, end.timestamp() - MIN_SPAN_S))
    graphs = all_graphs(names, points, events, left, end.timestamp())
    context = shell(
        db,
        resource,
        login,
        "graphs",
        range=key,
        ranges=list(queries.RANGES),
        graphs=graphs,
        since=dt.datetime.fromtimestamp(left, dt.UTC) if left > start.timestamp() + 60 else None,
        render_chart=render,
        legend=legend,
    )
    return render_template(request, "graphs.html", context)


class SeriesOut(BaseModel):
    role: str
    # [unix s, ready, unacked, consumers, publish/s, ack/s, current, desired, partial]
    points: list[
        tuple[
            float,
            int | None,
            int | None,
            int | None,
            float | None,
            float | None,
            int | None,
            int | None,
            bool,
        ]
    ]


class EventOut(BaseModel):
    at: dt.datetime
    role: str
    from_: int | None
    to: int
    reason: str
    outcome: str


class GraphData(BaseModel):
    range: str
    start: dt.datetime
    end: dt.datetime
    roles: list[SeriesOut]
    events: list[EventOut]


@json_router.get("/resources/{resource_id}/graphs/data", response_model=GraphData)
def graphs_data(resource: PathResourceDep, db: DbDep, range: RangeQuery = None) -> GraphData:
    """The graphs' data: per role, every point of the range; and the scaling events in it."""
    key, start, end, points = queries.window(db, range, utcnow())
    return GraphData(
        range=key,
        start=start,
        end=end,
        roles=[
            SeriesOut(
                role=role,
                points=[
                    (
                        p.at,
                        p.ready,
                        p.unacked,
                        p.consumers,
                        p.publish_rate,
                        p.ack_rate,
                        p.current,
                        p.desired,
                        p.partial,
                    )
                    for p in pts
                ],
            )
            for role, pts in points.items()
        ],
        events=[
            EventOut(
                at=e.at,
                role=e.role,
                from_=e.from_quantity,
                to=e.to_quantity,
                reason=e.reason,
                outcome=e.outcome,
            )
            for e in queries.events(db, since=start, limit=500)
        ],
    )


@router.get("/resources/{resource_id}/log", include_in_schema=False)
def log_page(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    before: Annotated[dt.datetime | None, Query()] = None,
) -> Response:
    events = records.events(db, before=before, limit=LOG_PAGE + 1)
    more = len(events) > LOG_PAGE
    events = events[:LOG_PAGE]
    context = shell(
        db,
        resource,
        login,
        "log",
        events=events,
        failed=queries.failed,
        older=events[-1].at.isoformat() if more and events else None,
    )
    return render_template(request, "log.html", context)


@router.get("/resources/{resource_id}/cost", include_in_schema=False)
def cost_page(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    range: RangeQuery = None,
) -> Response:
    key, _, end, points = queries.window(db, range, utcnow())
    roles = saved_roles(db, resource.id)
    rows = []
    for name in [*roles, *sorted(set(points) - set(roles))]:
        role = roles.get(name)
        series = [(p.at, p.current_mean) for p in points.get(name, [])]
        dynosize = role.dynosize if role else "standard-1x"
        seen = max((p.current or 0 for p in points.get(name, [])), default=0)
        maximum = role.maximum if role else seen
        rows.append(cost(name, dynosize, maximum, series, end.timestamp()))
    total = sum(r.usd or 0.0 for r in rows)
    total_max = sum(r.max_usd or 0.0 for r in rows)
    context = shell(
        db,
        resource,
        login,
        "cost",
        range=key,
        ranges=list(queries.RANGES),
        rows=rows,
        total=total,
        total_max=total_max,
    )
    return render_template(request, "cost.html", context)
