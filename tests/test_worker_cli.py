"""`guvscale worker` as a process: --once does one round and exits; SIGTERM stops the loop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.worker_models import WorkerHeartbeat
from guvscale.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKER_")}
    env.update(
        DATABASE_URL=settings.database_url or "",
        ENCRYPTION_KEYS=settings.encryption_keys,
        HEROKU_API_URL=settings.heroku_api_url,
        GUVSCALE_ENV="development",
        DYNO="worker.7",
    )
    return env


def beats(sessions: sessionmaker[Session]) -> list[WorkerHeartbeat]:
    with sessions() as s:
        return list(s.scalars(select(WorkerHeartbeat)))


def test_once_runs_one_round_and_exits(
    worker_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "guvscale", "worker", "--once", "--dry-run"],
        cwd=ROOT,
        env=env_for(worker_settings),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    [beat] = beats(sessions)
    assert beat.worker_id.startswith("worker.7:") and beat.ticks == 1


def test_sigterm_stops_the_loop_cleanly(
    worker_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "guvscale", "worker"],
        cwd=ROOT,
        env=env_for(worker_settings),
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(b.ticks >= 2 for b in beats(sessions)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert b"stopped" in (proc.stderr.read() if proc.stderr else b"")
