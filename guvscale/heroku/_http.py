"""One HTTP exchange with Heroku: send, turn every failure into a HerokuError, read JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from guvscale.heroku.errors import HerokuUnavailable, from_response, from_transport

log = logging.getLogger("guvscale.heroku")

Timeout = float | httpx.Timeout


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: Timeout,
    secrets: Sequence[str],
    json_body: object = None,
    form: Mapping[str, str] | None = None,
    observe: Callable[[httpx.Response], None] | None = None,
) -> httpx.Response:
    """The 2xx response, or raise the HerokuError that explains why not."""
    try:
        response = client.request(
            method,
            url,
            headers=dict(headers),
            timeout=timeout,
            json=json_body,
            data=dict(form) if form is not None else None,
        )
    except httpx.TransportError as exc:
        raise _transport_failed(exc, method, url, secrets) from None
    return _checked(response, method, url, secrets, observe)


async def asend(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    timeout: Timeout,
    secrets: Sequence[str],
    json_body: object = None,
) -> httpx.Response:
    """`send` for an httpx.AsyncClient (the worker's)."""
    try:
        response = await client.request(
            method, url, headers=dict(headers), timeout=timeout, json=json_body
        )
    except httpx.TransportError as exc:
        raise _transport_failed(exc, method, url, secrets) from None
    return _checked(response, method, url, secrets, None)


def _transport_failed(
    exc: httpx.TransportError, method: str, url: str, secrets: Sequence[str]
) -> HerokuUnavailable:
    error = from_transport(exc, secrets)
    log.warning("heroku %s %s failed: %s", method, _path(url), error.message)
    return error


def _checked(
    response: httpx.Response,
    method: str,
    url: str,
    secrets: Sequence[str],
    observe: Callable[[httpx.Response], None] | None,
) -> httpx.Response:
    if observe is not None:
        observe(response)
    # Paths name apps and add-ons, never tokens; the request id lets Heroku find the call.
    # Guarded: parsing the URL for a line nobody reads cost the worker ~2 % of its CPU.
    if log.isEnabledFor(logging.DEBUG):
        log.debug(
            "heroku %s %s -> %s request_id=%s remaining=%s",
            method,
            _path(url),
            response.status_code,
            response.headers.get("Request-Id"),
            response.headers.get("RateLimit-Remaining"),
        )
    if not response.is_success:
        raise from_response(response, secrets)
    return response


def read_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise HerokuUnavailable(
            502,
            "bad_response",
            f"answer is not JSON (status {response.status_code})",
            request_id=response.headers.get("Request-Id"),
        ) from None


def bad_shape(response: httpx.Response, what: str) -> HerokuUnavailable:
    return HerokuUnavailable(
        502,
        "bad_response",
        f"answer does not look like {what}",
        request_id=response.headers.get("Request-Id"),
    )


def _path(url: str) -> str:
    return httpx.URL(url).path
