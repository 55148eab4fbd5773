"""Whether the database answers, told once per change rather than once per failure.

While PostgreSQL is unreachable every request and every background round
fails the same way; logging each one buried the logs (~25 MB in 45 s). The
monitor logs one line when the database stops answering and one when it is
back, with how long and how many calls failed meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError

from guvscale.redact import redact_text

log = logging.getLogger("guvscale.db")


def describe(exc: BaseException) -> str:
    """The error's type and first line: the driver says why (refused, shutting down)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(cause).strip().splitlines() or [""])[0]
    return redact_text(f"{type(cause).__name__}: {first}"[:300])


class OutageMonitor:
    """failed(exc) on each call the database refused; succeeded() when a connection
    is made (watch(engine) wires that). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._failures = 0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failures += 1
            if self._down_since is not None:
                return
            self._down_since = self._clock()
        log.error("database unreachable (%s); answering 503 until it is back", describe(exc))

    def succeeded(self) -> None:
        if self._down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = self._clock() - self._down_since
            failures, self._failures, self._down_since = self._failures, 0, None
        log.warning(
            "database reachable again after %.1f s; %d calls failed meanwhile", seconds, failures
        )

    def watch(self, engine: Engine) -> Callable[[], None]:
        """Count every new connection as a success; returns the function that stops watching."""

        def connected(_conn: object) -> None:
            self.succeeded()

        event.listen(engine, "engine_connect", connected)
        return lambda: event.remove(engine, "engine_connect", connected)
