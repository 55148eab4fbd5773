"""The background loop and the engine during trouble: bounded logs, no hangs (issue 6,
items 2 and 11, the same class of bug beyond the request path)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from guvscale.db.engine import make_engine
from guvscale.db.outage import OutageMonitor
from guvscale.jobs.service import PollingService
from guvscale.web.app import create_app
from tests.web_fixtures import make_settings


def run_rounds(work: object, rounds: int, **kwargs: object) -> None:
    done = threading.Semaphore(0)

    def counted() -> object:
        try:
            return work()  # type: ignore[operator]
        finally:
            done.release()

    service = PollingService("test-poller", counted, interval=0.001, **kwargs)  # type: ignore[arg-type]
    service.start()
    try:
        for _ in range(rounds):
            assert done.acquire(timeout=10)
    finally:
        service.stop()


def test_a_round_failing_the_same_way_again_and_again_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = {"n": 0}

    def work() -> None:
        calls["n"] += 1
        if calls["n"] <= 30:
            raise RuntimeError("the same bug every round")

    with caplog.at_level(logging.INFO, logger="guvscale.jobs.service"):
        run_rounds(work, 35)
    records = [r for r in caplog.records if r.name == "guvscale.jobs.service"]
    with_trace = [r for r in records if r.exc_info]
    assert len(with_trace) == 1
    assert "test-poller round failed" in with_trace[0].getMessage()
    assert len(records) == 2, [r.getMessage() for r in records]
    assert "works again after 30 failed rounds" in records[1].getMessage()


def test_rounds_lost_to_the_database_go_to_the_outage_monitor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")

    def work() -> None:
        with dead.connect():
            pass

    monitor = OutageMonitor()
    with caplog.at_level(logging.INFO):
        run_rounds(work, 5, outage=monitor)
    dead.dispose()
    assert monitor.down
    mine = [r for r in caplog.records if r.name.startswith("guvscale")]
    assert [r.name for r in mine] == ["guvscale.db"]
    assert not any(r.exc_info for r in caplog.records)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word, like a host cut off mid-failover."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_a_database_that_never_answers_gives_503_within_the_connect_timeout(
    silent_server: int,
) -> None:
    settings = make_settings(database_connect_timeout=2)
    engine = make_engine(settings, f"postgresql+psycopg://u@127.0.0.1:{silent_server}/db")
    with pytest.raises(OperationalError):
        started = time.monotonic()
        with engine.connect():
            pass
    assert time.monotonic() - started < 10
    app = create_app(settings, engine=engine, run_background=False)
    with TestClient(app) as client:
        started = time.monotonic()
        r = client.delete("/heroku/resources/gvs-0000000000000000", headers=_partner())
        assert r.status_code == 503 and time.monotonic() - started < 10
    engine.dispose()


def _partner() -> dict[str, str]:
    from tests.partner_helpers import headers

    return headers()
