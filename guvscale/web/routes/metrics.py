"""GET /metrics: Prometheus text, from what the workers record in the database.

Each worker process keeps its counters in its `worker_heartbeats` row, so
any web process can answer for all of them; series carry a `worker` label.
With METRICS_TOKEN set, a Bearer token equal to it is required.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guvscale.clock import utcnow
from guvscale.db.scoping import unscoped
from guvscale.db.worker_models import TenantWorkerState, WorkerHeartbeat
from guvscale.errors import Unauthorized
from guvscale.services import records
from guvscale.settings import Settings
from guvscale.web.deps import TxDep
from guvscale.web.schemas import answers

router = APIRouter()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _authorised(request: Request, token: str | None) -> None:
    if not token:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # As bytes: compare_digest refuses str with non-ASCII characters, and a
    # header decodes as latin-1, so a stray byte was a 500, not a 401.
    same = hmac.compare_digest(given.strip().encode(), token.encode())
    if scheme.lower() != "bearer" or not same:
        raise Unauthorized(
            "METRICS_TOKEN required (Authorization: Bearer <METRICS_TOKEN>)",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    tags=["metrics"],
    responses={
        200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"},
        **answers(401, why={401: "METRICS_TOKEN is set and the Bearer token is not it."}),
    },
)
async def metrics(request: Request, tx: TxDep) -> PlainTextResponse:
    settings: Settings = request.app.state.settings
    _authorised(request, settings.metrics_token)

    def read(session: Session) -> str:
        unscoped(session)
        beats = records.heartbeats(session)
        tenants = session.scalar(select(func.count()).select_from(TenantWorkerState)) or 0
        health = records.worker_health(session, utcnow())
        return render(beats, int(tenants), health)

    return PlainTextResponse(await tx(read), media_type=CONTENT_TYPE)


def render(beats: list[WorkerHeartbeat], tenants: int, health: str) -> str:
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")

    counters = (
        ("guvscale_worker_ticks_total", "ticks", "worker rounds finished"),
        ("guvscale_worker_decisions_total", "decisions", "role decisions made"),
        ("guvscale_worker_heroku_calls_total", "heroku_calls", "Heroku API calls sent"),
        (
            "guvscale_worker_lease_takeovers_total",
            "takeovers",
            "tenants taken over from a dead worker",
        ),
        ("guvscale_worker_tick_seconds_total", "tick_seconds_total", "time spent in rounds"),
    )
    for name, attr, help_text in counters:
        family(name, "counter", help_text)
        lines += [f'{name}{{worker="{_label(b.worker_id)}"}} {getattr(b, attr)}' for b in beats]
    family("guvscale_worker_last_tick_seconds", "gauge", "duration of the last round")
    lines += [
        f'guvscale_worker_last_tick_seconds{{worker="{_label(b.worker_id)}"}} {b.last_tick_seconds}'
        for b in beats
    ]
    family("guvscale_worker_last_tick_timestamp_seconds", "gauge", "when the last round finished")
    lines += [
        f'guvscale_worker_last_tick_timestamp_seconds{{worker="{_label(b.worker_id)}"}} '
        f"{b.last_tick_at.timestamp() if b.last_tick_at else 0}"
        for b in beats
    ]
    family("guvscale_worker_errors_total", "counter", "errors by kind")
    for b in beats:
        for kind, count in sorted((b.errors or {}).items()):
            lines.append(
                f'guvscale_worker_errors_total{{worker="{_label(b.worker_id)}",'
                f'kind="{_label(kind)}"}} {count}'
            )
    family(
        "guvscale_heroku_rate_limit_remaining_lowest",
        "gauge",
        "lowest RateLimit-Remaining a worker saw lately",
    )
    lines += [
        f'guvscale_heroku_rate_limit_remaining_lowest{{worker="{_label(b.worker_id)}"}} '
        f"{b.lowest_rate_limit_remaining}"
        for b in beats
        if b.lowest_rate_limit_remaining is not None
    ]
    family("guvscale_tenants", "gauge", "tenants the workers look after")
    lines.append(f"guvscale_tenants {tenants}")
    family("guvscale_worker_stale", "gauge", "1 when no worker round finished lately")
    lines.append(f"guvscale_worker_stale {0 if health == 'ok' else 1}")
    return "\n".join(lines) + "\n"
