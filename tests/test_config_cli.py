"""`guvscale config get|set|status` as a user runs it, against the service on a real uvicorn."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from guvscale.db.worker_models import TenantWorkerState
from tests.browser_fixtures import Live
from tests.factories import Tenant, add_tenant
from tests.live_server import free_port

GOOD = "emails:\n  queue: send-email\n  deadline: 180\n  maximum: 5\n"
BAD = "emails:\n  queue: send-email\n  deadline: soon\n  maximum: 5\n  concurency: 3\n"


def run(
    live_url: str, tenant: Tenant | None, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GUVSCALE_")}
    if tenant is not None:
        environ.update(GUVSCALE_URL=live_url, GUVSCALE_ID=tenant.id, GUVSCALE_TOKEN=tenant.token)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "guvscale", "config", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_set_then_get_round_trips_the_file(live: Live, tmp_path: Path) -> None:
    tenant = add_tenant(live.sessions)
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD)
    done = run(live.url, tenant, "set", "-f", str(rules))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"saved {rules} as version 1"

    got = run(live.url, tenant, "get")
    assert got.returncode == 0 and got.stdout == GOOD
    out = tmp_path / "saved.yaml"
    assert run(live.url, tenant, "get", "-f", str(out)).returncode == 0
    assert out.read_text() == GOOD


def test_rules_errors_print_file_line_role_key(live: Live, tmp_path: Path) -> None:
    tenant = add_tenant(live.sessions)
    rules = tmp_path / "bad.yaml"
    rules.write_text(BAD)
    done = run(live.url, tenant, "set", "-f", str(rules))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{rules}:3: emails.deadline: ")
    assert lines[1].startswith(f"{rules}:5: emails.concurency: unknown key 'concurency'")
    assert "invalid_rules" in done.stderr and "Traceback" not in done.stderr
    assert run(live.url, tenant, "get").stdout == ""  # nothing saved


def test_wrong_token_and_missing_settings_fail_in_one_line(live: Live) -> None:
    tenant = add_tenant(live.sessions)
    done = run(live.url, tenant, "get", GUVSCALE_TOKEN="not-the-token")
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "401" in done.stderr
    missing = run(live.url, None, "status")
    assert missing.returncode == 2
    assert "GUVSCALE_URL" in missing.stderr and "GUVSCALE_TOKEN" in missing.stderr
    # Flags instead of the environment.
    flags = run(
        live.url, None, "get", "--url", live.url, "--id", tenant.id, "--token", tenant.token
    )
    assert flags.returncode == 0


def test_an_unreachable_service_is_one_clear_line(live: Live) -> None:
    tenant = add_tenant(live.sessions)
    port = free_port()  # a port nothing listens on
    done = run(live.url, tenant, "status", GUVSCALE_URL=f"http://127.0.0.1:{port}")
    assert done.returncode == 3
    assert done.stderr.strip() == "guvscale config: cannot reach GuvScale at 127.0.0.1 (connect)"
    assert done.stdout == ""


def test_status_shows_what_the_worker_last_saw(live: Live) -> None:
    tenant = add_tenant(live.sessions, plan="standard", app_name="status-app")
    before = run(live.url, tenant, "status")
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines()[:2] == [
        "app: status-app (plan standard, polled every 15 s)",
        "last tick: not yet",
    ]
    assert "no roles yet" in before.stdout

    now = dt.datetime.now(dt.UTC)
    roles = [
        {
            "role": "emails",
            "queue": "send-email",
            "ready": 120,
            "unacked": 10,
            "consumers": 2,
            "publishRate": 4.5,
            "current": 2,
            "desired": 4,
            "reason": "scaling up 2 → 4: backlog",
        },
        {"role": "reports", "queue": "reports", "error": "queue 'reports' does not exist"},
    ]
    with live.sessions.begin() as s:
        s.add(
            TenantWorkerState(
                resource_id=tenant.id,
                due_at=now,
                last_tick_at=now,
                memory={},
                status={"roles": roles, "error": None},
            )
        )
    after = run(live.url, tenant, "status")
    assert after.returncode == 0, after.stderr
    lines = after.stdout.splitlines()
    assert lines[1].startswith("last tick: " + now.strftime("%Y-%m-%dT%H:%M"))
    assert lines[2].split() == [
        "role",
        "queue",
        "ready",
        "unacked",
        "consumers",
        "publishRate",
        "current",
        "desired",
    ]
    assert lines[3].split() == ["emails", "send-email", "120", "10", "2", "4.50", "2", "4"]
    assert lines[4].strip() == "why: scaling up 2 → 4: backlog"
    assert lines[5].split()[:2] == ["reports", "reports"]
    assert lines[6].strip() == "error: queue 'reports' does not exist"


def test_set_prints_the_warnings_it_saved_with(live: Live, tmp_path: Path) -> None:
    # guv's own reference case: guv-validate refused it; we save and scale
    # it as guv does, and `validate` warns; `config set` said only "saved".
    tenant = add_tenant(live.sessions)
    rules = tmp_path / "rules.yaml"
    rules.write_text(GOOD.replace("deadline: 180", "deadline: 50\n  processing: 25\n  stddev: 12"))
    done = run(live.url, tenant, "set", "-f", str(rules))
    assert done.returncode == 0, done.stderr
    warning, saved = done.stdout.splitlines()
    assert warning.startswith(f"{rules}:") and "cannot finish in time" in warning
    assert saved == f"saved {rules} as version 1"


def test_bad_local_input_is_exit_2_in_one_line(live: Live, tmp_path: Path) -> None:
    tenant = add_tenant(live.sessions)
    cases = [
        (("get", "-f", str(tmp_path)), {}, "cannot write"),  # a folder, not a file
        (("status",), {"GUVSCALE_URL": "http://[::1"}, "is not a URL"),
        (("status",), {"GUVSCALE_TOKEN": tenant.token + "\n"}, "a newline?"),
    ]
    for args, env, words in cases:
        done = run(live.url, tenant, *args, **env)
        assert done.returncode == 2, (args, done.stderr)
        assert words in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert "Traceback" not in done.stderr and tenant.token not in done.stderr
