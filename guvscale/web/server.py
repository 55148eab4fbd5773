"""`guvscale serve` and `guvscale dev`: uvicorn around the app factory."""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI

from guvscale.db.engine import make_engine
from guvscale.db.migrate import upgrade
from guvscale.settings import Settings
from guvscale.web.app import create_app
from guvscale.web.logs import configure_logging


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - Heroku routes to $PORT
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))


def add_dev_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))


def production_app() -> FastAPI:
    """Factory for `uvicorn --factory` (the Procfile): JSON logs, settings from the environment."""
    configure_logging()
    return create_app()


def serve(args: argparse.Namespace) -> int:
    uvicorn.run(production_app(), host=args.host, port=args.port, access_log=False)
    return 0


def dev(args: argparse.Namespace) -> int:
    """Web, its background jobs and the scaling worker in one process; migrates first."""
    configure_logging()
    settings = Settings(worker_in_web=True)
    engine = make_engine(settings)
    upgrade(engine)
    uvicorn.run(
        create_app(settings, engine=engine), host=args.host, port=args.port, access_log=False
    )
    return 0
