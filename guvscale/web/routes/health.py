"""Liveness and database reachability, for Heroku and uptime checks."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import guvscale
from guvscale.clock import utcnow
from guvscale.db.scoping import unscoped
from guvscale.services import records

router = APIRouter()


class HealthAnswer(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    # "stale": no worker round finished for three intervals; the web still serves.
    worker: Literal["ok", "stale", "absent", "unknown"]
    version: str


@router.get(
    "/health",
    response_model=HealthAnswer,
    responses={503: {"model": HealthAnswer, "description": "The database is unreachable."}},
)
def health(request: Request) -> JSONResponse:
    worker = "unknown"
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            with Session(bind=conn) as session:
                worker = records.worker_health(unscoped(session), utcnow())
        database = "ok"
    except SQLAlchemyError:
        database = "unavailable"
    status = 200 if database == "ok" else 503
    answer = HealthAnswer(
        status="ok" if status == 200 else "degraded",
        database=database,
        worker=worker,
        version=guvscale.__version__,
    )
    return JSONResponse(answer.model_dump(), status_code=status)
