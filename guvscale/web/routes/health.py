"""Liveness and database reachability, for Heroku and uptime checks."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

import guvscale

router = APIRouter()


class HealthAnswer(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    version: str


@router.get(
    "/health",
    response_model=HealthAnswer,
    responses={503: {"model": HealthAnswer, "description": "The database is unreachable."}},
)
def health(request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "unavailable"
    status = 200 if database == "ok" else 503
    answer = HealthAnswer(
        status="ok" if status == 200 else "degraded",
        database=database,
        version=guvscale.__version__,
    )
    return JSONResponse(answer.model_dump(), status_code=status)
