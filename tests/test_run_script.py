"""`scripts/run` stopped with SIGTERM stops its embedded PostgreSQL (issue 6, item 14)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil

from tests.live_server import answers, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]


def postmaster_pid(data_dir: Path) -> int | None:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def test_sigterm_to_scripts_run_stops_the_embedded_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATA_DIR"] = str(data_dir)
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen(
        [str(ROOT / "scripts" / "run"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        up = wait_until(lambda: answers(f"http://127.0.0.1:{port}/health"), 120)
        assert up, (tmp_path / "run.log").read_text()[-3000:]
        pid = postmaster_pid(data_dir)
        assert pid is not None and psutil.pid_exists(pid)

        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert wait_until(lambda: not psutil.pid_exists(pid), 30), "PostgreSQL left running"
        assert postmaster_pid(data_dir) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
        # Never leave a server behind, whatever happened above.
        pid = postmaster_pid(data_dir)
        if pid is not None and psutil.pid_exists(pid):
            psutil.Process(pid).terminate()
