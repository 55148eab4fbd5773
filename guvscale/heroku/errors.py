"""What can go wrong when we call Heroku, as our own exceptions.

Each carries an HTTP status the caller may surface, Heroku's error `id`, its
message and the `Request-Id`, so a log line can point Heroku support at the
call. Messages are scrubbed of the secrets the call carried: a token must
never reach a log through str(exception).
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import httpx

from guvscale.clock import utcnow
from guvscale.redact import scrub

# Heroku documents no Retry-After on 429; its bucket refills about 75 tokens a
# minute, so a minute's pause gives back plenty without hammering.
DEFAULT_RATE_LIMIT_PAUSE = 60.0


class HerokuError(Exception):
    """An answer from Heroku we cannot use, or no answer at all."""

    # Whether the same call may succeed later without anyone changing anything.
    retryable = False

    def __init__(
        self, status: int, id: str, message: str, *, request_id: str | None = None
    ) -> None:
        super().__init__(f"Heroku {status} {id}: {message}")
        self.status = status
        self.id = id
        self.message = message
        self.request_id = request_id


class HerokuAuthError(HerokuError):
    """401/403: the token is unknown, expired or revoked, or the account suspended."""


class HerokuNotFound(HerokuError):
    """404: no such app, process type or add-on (or no longer)."""


class HerokuRejected(HerokuError):
    """400/422: Heroku understood and refused, e.g. `cannot_run_above_limit`.

    `limit` is Heroku's `limit` field when it sends one (the most dynos allowed).
    """

    def __init__(
        self,
        status: int,
        id: str,
        message: str,
        *,
        request_id: str | None = None,
        limit: int | None = None,
    ) -> None:
        super().__init__(status, id, message, request_id=request_id)
        self.limit = limit


class HerokuPaymentRequired(HerokuError):
    """402: the account is delinquent; nothing works until its owner pays."""


class HerokuRateLimited(HerokuError):
    """429: the account's request tokens ran out; `retry_after` is in seconds."""

    retryable = True

    def __init__(
        self,
        status: int,
        id: str,
        message: str,
        *,
        request_id: str | None = None,
        retry_after: float = DEFAULT_RATE_LIMIT_PAUSE,
    ) -> None:
        super().__init__(status, id, message, request_id=request_id)
        self.retry_after = retry_after


class HerokuUnavailable(HerokuError):
    """Timeouts, connection errors, 5xx and answers we cannot read.

    `status` is Heroku's 5xx, or 504 for a timeout and 502 for anything else
    that left us without a usable answer.
    """

    retryable = True


def from_transport(exc: httpx.TransportError, secrets: Iterable[str]) -> HerokuUnavailable:
    if isinstance(exc, httpx.TimeoutException):
        return HerokuUnavailable(504, "timeout", scrub(f"{type(exc).__name__}: {exc}", secrets))
    return HerokuUnavailable(
        502, "connection_error", scrub(f"{type(exc).__name__}: {exc}", secrets)
    )


def from_response(
    response: httpx.Response, secrets: Iterable[str], *, now: datetime | None = None
) -> HerokuError:
    """The exception for a non-2xx answer."""
    status = response.status_code
    request_id = response.headers.get("Request-Id")
    body = _json_object(response)
    secrets = list(secrets)
    error_id = str(body.get("id") or _default_id(status))
    # Heroku says `message`; some older answers say `error`.
    raw = body.get("message") or body.get("error") or response.reason_phrase or "no message"
    message = scrub(str(raw).strip(), secrets)
    if status in (401, 403):
        return HerokuAuthError(status, error_id, message, request_id=request_id)
    if status == 402:
        return HerokuPaymentRequired(status, error_id, message, request_id=request_id)
    if status == 404:
        return HerokuNotFound(status, error_id, message, request_id=request_id)
    if status in (400, 422):
        limit = body.get("limit")
        return HerokuRejected(
            status,
            error_id,
            message,
            request_id=request_id,
            limit=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        )
    if status == 429:
        return HerokuRateLimited(
            status,
            error_id,
            message,
            request_id=request_id,
            retry_after=_retry_after(response.headers.get("Retry-After"), now),
        )
    if status >= 500:
        return HerokuUnavailable(status, error_id, message, request_id=request_id)
    return HerokuError(status, error_id, message, request_id=request_id)


def _json_object(response: httpx.Response) -> dict[str, object]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _default_id(status: int) -> str:
    return {429: "rate_limit", 404: "not_found", 401: "unauthorized"}.get(status, f"http_{status}")


def _retry_after(value: str | None, now: datetime | None) -> float:
    if not value:
        return DEFAULT_RATE_LIMIT_PAUSE
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RATE_LIMIT_PAUSE
    current = now or utcnow()
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - current).total_seconds())
