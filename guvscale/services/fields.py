"""Field types for what callers send us, each bounded like the place it is stored.

Every value that passes one of these can be written to PostgreSQL and read
back by psycopg: no NUL in text, no string longer than its column, no instant
outside the years Python's datetime and our arithmetic on it can hold.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail on insert.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
Short = Annotated[str, StringConstraints(min_length=1, max_length=100), NoNul]
Long = Annotated[str, StringConstraints(max_length=200), NoNul]
Url = Annotated[str, StringConstraints(max_length=500), NoNul]
Code = Annotated[str, StringConstraints(min_length=1, max_length=500), NoNul]

# Wide enough for any real timestamp, narrow enough that adding a day or a
# year to one never leaves datetime's range (year 9999), whatever its offset.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


# ISO 8601 date and time, the offset optional (UTC) and with or without a colon:
# Heroku writes "2026-03-03T18:01:31-0800". Only this: pydantic alone would
# also take unix seconds (as numbers or digit strings) and bare dates.
INSTANT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?$"
)
_INSTANT_TEXT = re.compile(INSTANT_PATTERN)


def _instant_text(value: object) -> object:
    if not isinstance(value, str) or not _INSTANT_TEXT.fullmatch(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-03-03T18:01:31Z")
    return value


def _instant(value: dt.datetime) -> dt.datetime:
    # A timestamp without an offset is read as UTC, Heroku's own zone.
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    # Compared before converting: converting year 1 at +14:00 to UTC overflows.
    if not EARLIEST <= aware < LATEST:
        raise ValueError(
            f"must be between {EARLIEST:%Y-%m-%dT%H:%M:%SZ} and {LATEST:%Y-%m-%dT%H:%M:%SZ}"
        )
    # Stored in UTC: PostgreSQL refuses some offsets Python allows (beyond ±15:59).
    return aware.astimezone(dt.UTC)


Instant = Annotated[
    dt.datetime,
    BeforeValidator(_instant_text),
    AfterValidator(_instant),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": INSTANT_PATTERN,
            "description": "ISO 8601 date and time, 1970-01-01 to 3000-01-01 UTC",
        }
    ),
]

# The one shape Heroku gives an add-on's uuid; ours are `gvs-` and 16 hex
# digits (db.models.new_resource_id), so the two can never be mistaken.
UUID_PATTERN = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
OUR_ID_PATTERN = r"^gvs-[0-9a-f]{16}$"
_UUID = re.compile(UUID_PATTERN)
_OUR_ID = re.compile(OUR_ID_PATTERN)

HerokuUuid = Annotated[
    str,
    StringConstraints(pattern=UUID_PATTERN),
    AfterValidator(str.lower),
]


def heroku_uuid_of(ident: str) -> str | None:
    """`ident` as a stored Heroku uuid (lower case), or None when it is not one."""
    return ident.lower() if _UUID.fullmatch(ident) else None


def is_our_id(ident: str) -> bool:
    return _OUR_ID.fullmatch(ident) is not None
