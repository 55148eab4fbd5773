"""What the benchmarks share: a fresh database to run in, and a free local port.

Imported by the bench scripts after they put the checkout on sys.path.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, make_url, text

from guvscale.db.engine import open_database
from guvscale.settings import Settings
from tests.live_server import free_port

__all__ = ["free_port", "fresh_database"]


@contextmanager
def fresh_database() -> Iterator[str]:
    """An embedded PostgreSQL in a temporary folder, or (DATABASE_URL set) a new
    database on that server, dropped afterwards."""
    configured = Settings(database_url=os.environ.get("DATABASE_URL")).database_url
    if not configured:
        # The server stops before its folder is removed (contexts exit in reverse):
        # one still writing WAL made the removal fail and the bench end in a traceback.
        with (
            tempfile.TemporaryDirectory(prefix="gvs-bench-") as folder,
            open_database(Settings(database_url=None, data_dir=folder)) as url,
        ):
            yield url
        return
    name = "gvs_bench_" + secrets.token_hex(4)
    admin = create_engine(configured, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(configured).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
