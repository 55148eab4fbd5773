"""Talking to Heroku on a tenant's token: pacing, retries, and what errors teach us.

`RateLimit-Remaining` is per account (token), not per add-on: one token
shared by several add-ons is paced jointly. Within one worker process the
state lives in a PaceBook keyed by a digest of the token (never the token
itself), and every tenant on that token reads and writes the same entry:
- remaining: the last `RateLimit-Remaining`; below LOW we skip optional calls
  (formation refreshes) and below RESERVE we wait for the refill;
- paused_until: after a 429, no call until then (no tight loop);
- invalid: {fp, message} once Heroku refused the token (401/403). It holds
  only for that token (fp is its digest): a new token clears it.
Each tenant's memory (`memory["heroku"]`) keeps a copy, so a restarted or
another worker starts from what was last seen. Across processes there is no
shared book: each process paces from the header it last saw itself (and
from the copies in the tenants' memory it loads), which Heroku's own 429
and Retry-After then correct.
5xx and timeouts are retried within the tick with jittered backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from guvscale.heroku.errors import (
    HerokuAuthError,
    HerokuError,
    HerokuRateLimited,
    HerokuUnavailable,
)
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


_KEYS = ("remaining", "seen_at", "paused_until", "invalid")
BOOK_SIZE = 20_000  # entries before long-unseen tokens are forgotten
FORGET_AFTER = 3600.0  # seconds


class PaceBook:
    """One worker process's pacing state per Heroku token, keyed by the token's digest."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}

    def entry(self, fp: str, now: float) -> dict[str, Any]:
        if fp not in self._entries and len(self._entries) >= BOOK_SIZE:
            self._forget(now)
        return self._entries.setdefault(fp, {})

    def _forget(self, now: float) -> None:
        for fp, state in list(self._entries.items()):
            seen = max(float(state.get("seen_at") or 0), float(state.get("paused_until") or 0))
            if now - seen > FORGET_AFTER and not state.get("invalid"):
                del self._entries[fp]


def _merge(shared: dict[str, Any], kept: dict[str, Any]) -> None:
    """Bring what a tenant's memory remembers into the shared entry, newest winning."""
    if float(kept.get("seen_at") or 0) > float(shared.get("seen_at") or 0):
        shared["remaining"], shared["seen_at"] = kept.get("remaining"), kept["seen_at"]
    paused = max(float(kept.get("paused_until") or 0), float(shared.get("paused_until") or 0))
    if paused:
        shared["paused_until"] = paused
    if kept.get("invalid") and not shared.get("invalid"):
        shared["invalid"] = kept["invalid"]


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
        book: PaceBook | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        fp = fingerprint(token)
        kept: dict[str, Any] = memory.setdefault("heroku", {})
        if kept.get("fp") != fp:
            # A new token was saved (or this memory predates the digest): start afresh.
            invalid = kept.get("invalid")
            kept.clear()
            if invalid and invalid.get("fp") == fp:
                kept["invalid"] = invalid
            kept["fp"] = fp
        self._kept = kept
        self.state: dict[str, Any] = (book or PaceBook()).entry(fp, now)
        _merge(self.state, kept)
        self._mirror()
        self.token = token
        self.counters = counters
        self.now = now  # epoch seconds, the tick's
        self.deadline = deadline  # monotonic
        self.rng = rng
        self.sleep = sleep

    def _mirror(self) -> None:
        for key in _KEYS:
            if key in self.state:
                self._kept[key] = self.state[key]

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
            except (HerokuRateLimited, HerokuAuthError) as exc:
                self.learn(exc)
                raise
            except HerokuUnavailable:
                attempt += 1
                delay = BASE_DELAY * 2**attempt
                delay = delay / 2 + self.rng.uniform(0, delay / 2)
                if attempt > RETRIES or time.monotonic() + delay >= self.deadline:
                    raise
                await self.sleep(delay)
                continue
            self.saw(answer.rate_limit_remaining)
            return answer

    def learn(self, exc: HerokuError) -> None:
        """What a refusal says about the token: a 429 pauses it, a 401/403 ends it."""
        if isinstance(exc, HerokuRateLimited):
            self.state["paused_until"] = self.now + exc.retry_after
            self.state["remaining"] = 0
            self.state["seen_at"] = self.now
        elif isinstance(exc, HerokuAuthError):
            self.state["invalid"] = {"fp": fingerprint(self.token), "message": exc.message}
        self._mirror()

    def saw(self, remaining: int | None) -> None:
        """A `RateLimit-Remaining` header seen on this token (None: there was none)."""
        if remaining is None:
            return
        self.state["remaining"] = remaining
        self.state["seen_at"] = self.now
        self.counters.saw_remaining(remaining)
        if remaining < RESERVE:
            # Spend nothing more until the bucket holds RESERVE again.
            self.state["paused_until"] = self.now + (RESERVE - remaining) / REFILL_PER_S
        self._mirror()
