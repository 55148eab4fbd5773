"""Work the web process does off the request path (e.g. finishing async provisioning).

Each service has start() and stop(); the app's lifespan runs them. Kept in
one list so `guvscale dev` and tests can see what runs.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI


class BackgroundService(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


def services_for(app: FastAPI) -> list[BackgroundService]:
    return []
