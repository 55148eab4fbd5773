"""Talking to Heroku on a tenant's token: pacing, retries, and what errors teach us.

Kept per tenant in its memory (`memory["heroku"]`):
- remaining: the last `RateLimit-Remaining`; below LOW we skip optional calls
  (formation refreshes) and below RESERVE we wait for the refill;
- paused_until: after a 429, no call until then (no tight loop);
- invalid: {fp, message} once Heroku refused the token (401/403). It holds
  only for that token (fp is a digest of it): a new token clears it.
5xx and timeouts are retried within the tick with jittered backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from guvscale.heroku.errors import HerokuAuthError, HerokuRateLimited, HerokuUnavailable
from guvscale.heroku.platform_async import Answer
from guvscale.worker.types import Counters

T = TypeVar("T")

REFILL_PER_S = 75 / 60  # Heroku refills about 75 request tokens a minute
LOW = 200
RESERVE = 20
RETRIES = 2
BASE_DELAY = 0.2


class Paused(Exception):
    """No call now: the token is refused, or its rate limit is spent."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Pacer:
    def __init__(
        self,
        memory: dict[str, Any],
        token: str,
        counters: Counters,
        *,
        now: float,
        deadline: float,
        rng: random.Random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.state: dict[str, Any] = memory.setdefault("heroku", {})
        self.token = token
        self.counters = counters
        self.now = now  # epoch seconds, the tick's
        self.deadline = deadline  # monotonic
        self.rng = rng
        self.sleep = sleep
        invalid = self.state.get("invalid")
        if invalid and invalid.get("fp") != fingerprint(token):
            self.state.pop("invalid", None)  # a new token was saved

    @property
    def invalid(self) -> str | None:
        invalid = self.state.get("invalid")
        return str(invalid["message"]) if invalid else None

    def blocked(self, *, optional: bool = False) -> Paused | None:
        """Why no call may be made now (None: go ahead)."""
        if self.invalid:
            return Paused(f"Heroku refused the token: {self.invalid}", "token_invalid")
        paused = float(self.state.get("paused_until") or 0)
        if paused > self.now:
            return Paused(
                f"Heroku rate limit reached; waiting {paused - self.now:.0f} s for the refill",
                "rate_limited",
            )
        remaining = self.state.get("remaining")
        if remaining is not None and optional and remaining < LOW:
            return Paused("Heroku rate limit low; skipping optional calls", "rate_low")
        return None

    async def call(
        self, fn: Callable[[], Awaitable[Answer[T]]], *, optional: bool = False
    ) -> Answer[T]:
        attempt = 0
        while True:
            if (why := self.blocked(optional=optional)) is not None:
                raise why
            self.counters.heroku_calls += 1
            try:
                answer = await fn()
            except HerokuRateLimited as exc:
                self.state["paused_until"] = self.now + exc.retry_after
                self.state["remaining"] = 0
                raise
            except HerokuAuthError as exc:
                self.state["invalid"] = {"fp": fingerprint(self.token), "message": exc.message}
                raise
            except HerokuUnavailable:
                attempt += 1
                delay = BASE_DELAY * 2**attempt
                delay = delay / 2 + self.rng.uniform(0, delay / 2)
                if attempt > RETRIES or time.monotonic() + delay >= self.deadline:
                    raise
                await self.sleep(delay)
                continue
            self._saw(answer.rate_limit_remaining)
            return answer

    def _saw(self, remaining: int | None) -> None:
        if remaining is None:
            return
        self.state["remaining"] = remaining
        self.counters.saw_remaining(remaining)
        if remaining < RESERVE:
            # Spend nothing more until the bucket holds RESERVE again.
            self.state["paused_until"] = self.now + (RESERVE - remaining) / REFILL_PER_S
