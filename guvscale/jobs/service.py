"""A background thread that runs one unit of work every `interval` seconds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from guvscale.db.engine import unavailable
from guvscale.db.outage import OutageMonitor

log = logging.getLogger(__name__)


class PollingService:
    """start() and stop() for the app's lifespan; stop() returns as soon as the
    current round ends (at once when idle)."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        *,
        interval: float = 1.0,
        join_timeout: float = 30.0,
        outage: OutageMonitor | None = None,
    ) -> None:
        self.name = name
        # Told of rounds lost to the database, which it reports once per outage.
        self._outage = outage
        self._work = work
        self._interval = interval
        self._join_timeout = join_timeout
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self._join_timeout)
            if self._thread.is_alive():
                log.warning("%s did not stop within %.0f s", self.name, self._join_timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        # A round failing the same way every second would log its traceback every
        # second: log it once, then once more when rounds work again.
        failing: str | None = None
        repeats = 0
        while not self._stopping.is_set():
            try:
                self._work()
            except Exception as exc:  # a bad round must not end the loop
                if self._outage is not None and unavailable(exc):
                    self._outage.failed(exc)
                    self._stopping.wait(self._interval)
                    continue
                same = f"{type(exc).__name__}: {exc}"
                if same == failing:
                    repeats += 1
                else:
                    log.exception("%s round failed", self.name)
                    failing, repeats = same, 0
            else:
                if failing is not None:
                    log.warning("%s works again after %d failed rounds", self.name, repeats + 1)
                    failing, repeats = None, 0
            self._stopping.wait(self._interval)
