"""Adapter for GuvScale's own config API, as the CLI (and the heroku plugin) use it.

Transport failures become `ServiceUnreachable`; any answer that is not a
success becomes `ApiError` with the service's status, id, message and, for
rules, the problems it listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


class ClientError(Exception):
    """Anything the CLI reports as one line."""


class ServiceUnreachable(ClientError):
    pass


@dataclass
class ApiError(ClientError):
    status: int
    id: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status}, {self.id})"


class ConfigApi:
    def __init__(
        self, http: httpx.Client, url: str, resource_id: str, token: str, *, timeout: float
    ) -> None:
        self._http = http
        self._base = f"{url.rstrip('/')}/config/{quote(resource_id, safe='')}"
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._timeout = timeout
        self._host = httpx.URL(url).host or url

    def _call(self, method: str, path: str = "", body: dict[str, Any] | None = None) -> Any:
        try:
            r = self._http.request(
                method,
                self._base + path,
                json=body,
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            raise ServiceUnreachable(
                f"GuvScale at {self._host} did not answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            reason = type(exc).__name__.removesuffix("Error").lower() or "error"
            raise ServiceUnreachable(f"cannot reach GuvScale at {self._host} ({reason})") from None
        try:
            data = r.json()
        except ValueError:
            data = None
        if r.is_success and isinstance(data, dict):
            return data
        if isinstance(data, dict):
            raise ApiError(
                r.status_code,
                str(data.get("id", "error")),
                str(data.get("message", r.reason_phrase)),
                [e for e in data.get("errors", []) if isinstance(e, dict)],
            )
        if r.status_code in (502, 503, 504):
            # The router's own page, not ours: the service is down or restarting.
            raise ServiceUnreachable(
                f"GuvScale at {self._host} is not answering ({r.status_code} "
                f"{r.reason_phrase}); try again shortly"
            )
        raise ApiError(
            r.status_code, "error", f"unexpected answer from GuvScale: {r.reason_phrase}"
        )

    def get_rules(self) -> str:
        return str(self._call("GET").get("configYaml", ""))

    def set_rules(self, yaml_text: str) -> tuple[int, list[dict[str, Any]]]:
        """Saves; returns the new version and the warnings the service gave
        (what does not block saving, such as guv's unmeetable deadline)."""
        data = self._call("POST", body={"config": yaml_text})
        warnings = [w for w in data.get("warnings") or [] if isinstance(w, dict)]
        return int(data.get("version", 0)), warnings

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/status")
        return result
