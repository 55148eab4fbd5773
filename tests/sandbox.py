"""GuvScale run for real on one machine: the web service and `guvscale worker`
processes (subprocesses, as on Heroku), the fake Heroku, and a formation runner
per app that turns its dynos into real consumer processes.

    sandbox = Sandbox(database_url, fake_state, fake_url, workdir)
    web = sandbox.start_web()
    tenant = sandbox.add_tenant(app="acme-app", role="jobs", rules=RULES, ...)
    sandbox.start_worker(); sandbox.start_worker()
    ...
    sandbox.stop()

The end-to-end and fault tests and bench/burst.py use it; it needs no pytest.
The database must already be migrated.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from cryptography.fernet import Fernet

from tests.fake_heroku.runner import FormationRunner, ProcessSpec, consumer_spec
from tests.fake_heroku.state import CLIENT_SECRET, FakeState
from tests.live_server import free_port
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]
ADDON_PASSWORD = "sandbox-addon-password"


class Process:
    """One `python -m guvscale ...` subprocess, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.name, self.log_path = name, log
        self._log: IO[bytes] = log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "guvscale", *argv],
            cwd=REPO,
            env={**os.environ, **env, "DYNO": name, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> int:
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to tidy up."""
        if self.alive:
            self.popen.kill()
            self.popen.wait()

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")


@dataclass
class Tenant:
    resource_id: str
    api_token: str  # GUVSCALE_TOKEN
    heroku_token: str
    app: str
    addon_id: str
    runner: FormationRunner | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}


@dataclass
class Sandbox:
    database_url: str  # what web and workers use (may go through a proxy)
    fake: FakeState
    fake_url: str
    workdir: Path
    # Overrides every plan's poll interval, so tests need not wait 10-60 s a tick.
    poll_seconds: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    encryption_key: str = field(default_factory=lambda: Fernet.generate_key().decode())
    web: Process | None = None
    web_url: str = ""
    workers: list[Process] = field(default_factory=list)
    tenants: list[Tenant] = field(default_factory=list)
    # Every change of a formation quantity Heroku made: (app name, type, from, to, time.time()).
    transitions: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    _known: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with self.fake.lock:
            self.fake.formation_listeners.append(self._saw_formation)

    def _saw_formation(self) -> None:
        # Called by the fake under its lock, after a PATCH took effect.
        for app in self.fake.apps.values():
            for kind, process in app.formation.items():
                before = self._known.get((app.name, kind))
                if before is not None and before != process.quantity:
                    self.transitions.append((app.name, kind, before, process.quantity, time.time()))
                self._known[(app.name, kind)] = process.quantity

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            "GUVSCALE_ENV": "development",
            "DATABASE_URL": self.database_url,
            "SECRET_KEY": "sandbox-secret-key",
            "ADDON_PASSWORD": ADDON_PASSWORD,
            "SSO_SALT": "sandbox-sso-salt",
            "HEROKU_OAUTH_SECRET": CLIENT_SECRET,
            "ENCRYPTION_KEYS": self.encryption_key,
            "HEROKU_API_URL": self.fake_url,
            "HEROKU_ID_URL": self.fake_url,
            "PUBLIC_URL": self.web_url or "http://127.0.0.1",
            "ALLOW_PRIVATE_BROKERS": "true",
            "HTTP_TIMEOUT": "3",
            "WORKER_LOOP_SECONDS": "0.25",
            "WORKER_TENANT_TIMEOUT": "8",
            "WORKER_POLL_SECONDS": str(self.poll_seconds),
            **self.extra_env,
            **overrides,
        }

    # -- processes ------------------------------------------------------------------

    def start_web(self, timeout: float = 60) -> Process:
        port = free_port()
        self.web_url = f"http://127.0.0.1:{port}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.web = Process(
            "web.1",
            ["serve", "--host", "127.0.0.1", "--port", str(port)],
            self.env(),
            self.workdir / "web.log",
        )

        def up() -> bool:
            assert self.web is not None
            if not self.web.alive:
                raise RuntimeError("the web process died:\n" + self.web.output()[-3000:])
            try:
                return httpx.get(self.web_url + "/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(up, timeout=timeout):
            raise RuntimeError("the web process did not answer:\n" + self.web.output()[-3000:])
        return self.web

    def start_worker(self, **env: str) -> Process:
        name = f"worker.{len(self.workers) + 1}"
        process = Process(name, ["worker"], self.env(**env), self.workdir / f"{name}.log")
        self.workers.append(process)
        return process

    def stop(self) -> None:
        with self.fake.lock:
            if self._saw_formation in self.fake.formation_listeners:
                self.fake.formation_listeners.remove(self._saw_formation)
        for worker in self.workers:
            worker.stop()
        for tenant in self.tenants:
            if tenant.runner is not None:
                tenant.runner.stop()
        if self.web is not None:
            self.web.stop()

    # -- tenants ------------------------------------------------------------------

    def add_tenant(
        self,
        *,
        app: str,
        formation: Mapping[str, int],
        rules: str,
        broker_url: str,
        management_url: str | None = None,
        plan: str = "performance",
        dynos: Mapping[str, ProcessSpec] | None = None,
        grace: float = 5.0,
    ) -> Tenant:
        """An app on the fake Heroku with our add-on, provisioned through the partner
        API, its credentials and rules given through the config API; `dynos` (process
        type -> what a dyno runs) start a formation runner for the app."""
        state = self.fake
        heroku_token = state.add_user_token()
        state.add_app(app, dict(formation), owner=state.account_of(heroku_token).user_id)
        with state.lock:
            self._known.update({(app, kind): q for kind, q in formation.items()})
        addon = state.add_addon(app, addon_id=str(uuid.uuid4()), plan=plan, state="provisioned")
        with httpx.Client(base_url=self.web_url, timeout=30) as http:
            answer = http.post(
                "/heroku/resources",
                json={
                    "uuid": addon.id,
                    "name": addon.name,
                    "callback_url": f"{self.fake_url}/addons/{addon.id}",
                    "plan": plan,
                    "region": "amazon-web-services::us-east-1",
                    "options": {},
                },
                auth=("guvscale", ADDON_PASSWORD),
                headers={"Accept": "application/vnd.heroku-addons+json; version=3"},
            )
            answer.raise_for_status()
            config = answer.json()["config"]
            tenant = Tenant(
                config["GUVSCALE_ID"], config["GUVSCALE_TOKEN"], heroku_token, app, addon.id
            )
            body = {"herokuToken": heroku_token, "brokerUrl": broker_url}
            if management_url is not None:
                body["managementUrl"] = management_url
            self.call(http, "PUT", f"/config/{tenant.resource_id}/credentials", tenant, body)
            self.call(http, "POST", f"/config/{tenant.resource_id}", tenant, {"config": rules})
        if dynos:
            tenant.runner = FormationRunner(
                state, app, dynos, grace=grace, log_dir=self.workdir / app
            )
            tenant.runner.start()
        self.tenants.append(tenant)
        return tenant

    def put_credentials(self, tenant: Tenant, body: dict[str, str]) -> Any:
        with httpx.Client(base_url=self.web_url, timeout=30) as http:
            path = f"/config/{tenant.resource_id}/credentials"
            return self.call(http, "PUT", path, tenant, body)

    @staticmethod
    def call(
        http: httpx.Client, method: str, path: str, tenant: Tenant, body: object = None
    ) -> Any:
        answer = http.request(method, path, json=body, headers=tenant.auth)
        if answer.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
        return answer.json()

    def status(self, tenant: Tenant) -> Any:
        with httpx.Client(base_url=self.web_url, timeout=30) as http:
            return self.call(http, "GET", f"/config/{tenant.resource_id}/status", tenant)

    def events(self, tenant: Tenant, limit: int = 500) -> list[dict[str, Any]]:
        with httpx.Client(base_url=self.web_url, timeout=30) as http:
            path = f"/config/{tenant.resource_id}/events?limit={limit}"
            answer = self.call(http, "GET", path, tenant)
        return list(answer["events"] if isinstance(answer, dict) else answer)

    def quantity(self, tenant: Tenant, kind: str) -> int:
        with self.fake.lock:
            app = self.fake.find_app(tenant.app)
            assert app is not None
            return app.formation[kind].quantity

    def patches(self, tenant: Tenant) -> list[Any]:
        """The formation PATCHes Heroku (the fake) received for the tenant's app."""
        with self.fake.lock:
            return [
                r
                for r in self.fake.requests
                if (r.method == "PATCH" and r.path.startswith(f"/apps/{tenant.app}/formation"))
                or (
                    r.method == "PATCH"
                    and r.path.startswith(f"/apps/{self._app_id(tenant)}/formation")
                )
            ]

    def _app_id(self, tenant: Tenant) -> str:
        app = self.fake.find_app(tenant.app)
        return app.id if app is not None else tenant.app


__all__ = ["Process", "Sandbox", "Tenant", "consumer_spec", "free_port", "wait_until"]
