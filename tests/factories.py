"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

# -- poisoned rows: values the database holds but the driver cannot read -----

# What `9999-12-31T23:59:59-14:00` and `0001-01-01T00:00:00+14:00` become in a
# timestamptz column (storable by PostgreSQL, outside Python's datetime), and a
# state no release knows.
POISONS: dict[str, tuple[str, str, str, str]] = {
    "expiry after year 9999": (
        "provision_jobs",
        "grant_expires_at",
        "timestamptz",
        "10000-01-01 13:59:59+00",
    ),
    "expiry before year 1": (
        "provision_jobs",
        "grant_expires_at",
        "timestamptz",
        "0001-12-31 10:00:00+00 BC",
    ),
    "unknown resource state": ("resources", "state", "varchar", "bogus"),
}


def poison(sessions: sessionmaker[Session], resource_id: str, kind: str) -> None:
    """Write one unreadable value for `resource_id` straight through SQL, as a bug,
    an old release or a hand edit could have left it."""
    table, column, sql_type, value = POISONS[kind]
    key = "id" if table == "resources" else "resource_id"
    # Names come from POISONS above, never from input.
    statement = f"UPDATE {table} SET {column} = CAST(:value AS {sql_type}) WHERE {key} = :rid"
    with sessions.begin() as session:
        session.execute(text(statement), {"value": value, "rid": resource_id})
