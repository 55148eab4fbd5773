"""Tests wait on conditions, never on fixed sleeps: timing varies on a shared machine."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(check: Callable[[], object], *, timeout: float, every: float = 0.2) -> bool:
    """Poll `check` until it is truthy or `timeout` seconds pass; callers assert the result."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
