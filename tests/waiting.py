"""Tests wait on conditions, never on fixed sleeps: timing varies on a shared machine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(check: Callable[[], object], *, timeout: float, every: float = 0.2) -> bool:
    """Poll `check` until it is truthy or `timeout` seconds pass; callers assert the result."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(every)


def returns_within(call: Callable[[], T], *, timeout: float) -> T:
    """`call()`'s result (or its exception), run on a daemon thread so that a hang
    fails the test after `timeout` seconds instead of holding the whole run. A
    guard against hanging, generous on purpose: never a measure of speed."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="returns_within", daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still running after {timeout:g} s: it hangs"
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]
