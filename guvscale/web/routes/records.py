"""GET /config/{id}/status and /config/{id}/events: what the worker saw and did.

Same Bearer GUVSCALE_TOKEN auth as the rest of /config (`web.api_auth.TenantDep`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from guvscale.services import records
from guvscale.web.api_auth import CONFIG_ERRORS, ConfigRoute, TenantDep


def _not_a_number(value: object) -> object:
    """The schema says date-time; pydantic would also read `5` as unix seconds."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("give a date-time like 2026-12-01T08:00:00Z, not a number")
    return value


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_not_a_number)]

router = APIRouter(prefix="/config/{id}", tags=["config"], route_class=ConfigRoute)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class RoleStatusOut(_Camel):
    role: str
    queue: str | None = None
    app: str | None = None
    process_types: list[str] = Field(default_factory=list)
    ready: int | None = None
    unacked: int | None = None
    consumers: int | None = None
    publish_rate: float | None = Field(None, description="messages/s between the last two reads")
    ack_rate: float | None = None
    current: int | None = Field(None, description="dynos running now (formation)")
    desired: int | None = Field(None, description="dynos the model asks for")
    reason: str | None = Field(None, description="the decision, in one line")
    observed_at: dt.datetime | None = None
    partial: bool = Field(False, description="ready count only (management API unreachable)")
    limit: int | None = Field(None, description="Heroku's limit for this process type, once hit")
    error: str | None = Field(
        None,
        description="bad token, unreachable broker, missing queue, limit hit, beyond the plan",
    )


class StatusOut(_Camel):
    app: str | None
    plan: str
    poll_interval: int = Field(description="seconds between looks, set by the plan")
    dry_run: bool
    last_tick: dt.datetime | None = Field(description="when the worker last looked")
    error: str | None = Field(description="what stops the whole add-on from scaling, if anything")
    roles: list[RoleStatusOut]


class EventOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    at: dt.datetime
    role: str
    app: str
    process_type: str = Field(serialization_alias="processType")
    from_: int | None = Field(serialization_alias="from")
    to: int
    reason: str
    request_id: str | None = Field(serialization_alias="requestId", description="Heroku's")
    outcome: str = Field(description="applied, dry-run, pending, or the error")


class EventsOut(BaseModel):
    events: list[EventOut]


@router.get("/status", response_model=StatusOut, responses=CONFIG_ERRORS)
async def get_status(tenant: TenantDep) -> StatusOut:
    found = await tenant(lambda s: records.status(s, tenant.resource_id))
    return StatusOut(
        app=found.app,
        plan=found.plan,
        poll_interval=found.poll_interval,
        dry_run=found.dry_run,
        last_tick=found.last_tick,
        error=found.error,
        roles=[RoleStatusOut.model_validate(r) for r in found.roles],
    )


@router.get(
    "/events",
    response_model=EventsOut,
    response_model_by_alias=True,
    responses=CONFIG_ERRORS,
)
async def get_events(
    tenant: TenantDep,
    limit: Annotated[int, Query(ge=1, le=records.MAX_EVENTS)] = 50,
    before: Annotated[
        IsoDateTime | None, Query(description="only events before this time (paging)")
    ] = None,
) -> EventsOut:
    found = await tenant(lambda s: records.events(s, limit=limit, before=before))
    return EventsOut(
        events=[
            EventOut(
                id=e.id,
                at=e.at,
                role=e.role,
                app=e.app,
                process_type=e.process_type,
                from_=e.from_quantity,
                to=e.to_quantity,
                reason=e.reason,
                request_id=e.request_id,
                outcome=e.outcome,
            )
            for e in found
        ]
    )
