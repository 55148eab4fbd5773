"""`guvscale dev` as a newcomer runs it: one sign-in link, scaling on the dashboard within a minute.

The real command in a subprocess (its own database on the test server, its own
data folder and port), the machine's RabbitMQ, real consumer dynos; the
dashboard read in headless Chromium.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser_fixtures import Shots
from tests.db_fixtures import create_database, drop_database
from tests.sandbox import free_port


def test_dev_prints_one_link_and_scales_within_a_minute(
    pg_server_url: str, tmp_path: Path, page: Any, shots: Shots
) -> None:
    url = create_database(pg_server_url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "guvscale", "dev", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 90
        link = None
        while link is None and time.monotonic() < deadline and proc.poll() is None:
            found = [m for line in lines if (m := re.search(r"Sign in: (\S+)", line))]
            link = found[0].group(1) if found else None
            time.sleep(0.2)
        assert link, "no sign-in link:\n" + "".join(lines)
        started = time.monotonic()
        page.goto(link)
        assert "/resources/gvs-" in page.url
        shots("signed-in")
        page.click("nav.tabs >> text=Decision log")
        rows = page.locator("table.log tbody tr")
        while rows.count() == 0 and time.monotonic() - started < 60:
            time.sleep(2)
            page.reload()
        assert rows.count() >= 1, "no decision within a minute:\n" + "".join(lines)
        expect(rows.first).to_contain_text("scaling up")
        shots("decisions")
        page.click("nav.tabs >> text=Graphs")
        page.click("nav.ranges >> text=1h")
        page.wait_for_url("**/graphs?range=1h")
        expect(page.locator("#role-worker svg.chart")).to_have_count(3)
        assert page.locator("#role-worker path.series").count() >= 3
        shots("graphs")
        assert sum("Sign in:" in line for line in lines) == 1
        assert not any("Traceback" in line for line in lines), "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
        drop_database(pg_server_url, url)
    assert any("stopping: the sandbox's dynos get SIGTERM" in line for line in lines)
    assert proc.returncode == 0, "".join(lines)
