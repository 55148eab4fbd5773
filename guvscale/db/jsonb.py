"""JSON to and from PostgreSQL's jsonb, on orjson: every tick writes and reads
each tenant's memory and status, and the stdlib's json was about 7 % of the
worker's CPU (py-spy, bench/worker.py)."""

from __future__ import annotations

from typing import Any

import orjson

loads = orjson.loads


def dumps(value: Any) -> str:
    # Non-string keys become strings, as the stdlib's json makes them.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
