"""Liveness and database reachability, for Heroku and uptime checks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

import guvscale
from guvscale.clock import utcnow
from guvscale.db.scoping import unscoped
from guvscale.services import records

router = APIRouter()


@router.get("/health")
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
    return JSONResponse(
        {
            "status": "ok" if status == 200 else "degraded",
            "database": database,
            # "stale": no worker round finished for three intervals; the web still serves.
            "worker": worker,
            "version": guvscale.__version__,
        },
        status_code=status,
    )
