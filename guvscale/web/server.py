"""`guvscale serve`: uvicorn around the app factory (`guvscale dev` is guvscale.sandbox)."""

from __future__ import annotations

import argparse
import os

import uvicorn
from fastapi import FastAPI

from guvscale.web.app import create_app
from guvscale.web.logs import configure_logging


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - Heroku routes to $PORT
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))


def production_app() -> FastAPI:
    """Factory for `uvicorn --factory` (the Procfile): JSON logs, settings from the environment."""
    configure_logging()
    return create_app()


def serve(args: argparse.Namespace) -> int:
    # log_config=None: uvicorn keeps the JSON logging production_app() set up.
    uvicorn.run(production_app(), host=args.host, port=args.port, access_log=False, log_config=None)
    return 0
