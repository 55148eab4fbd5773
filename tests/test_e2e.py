"""End to end: provision through the partner API, credentials and rules through
the config API, two `guvscale worker` processes, real consumers started by the
formation runner, a burst of 1,200 jobs on the real RabbitMQ."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e_fixtures import check_ledger, role_status, ticks, worker_state
from tests.fake_heroku.runner import consumer_spec
from tests.sandbox import Sandbox
from tests.waiting import wait_until
from tests.workload.publisher import publish

JOBS = 1200
DEADLINE = 90  # seconds, generous: the machine is shared and small
PROCESSING = 0.5  # seconds a job; 5 at once: one dyno does 10 jobs/s, 120 s for the burst
CONCURRENCY = 5
MINIMUM, MAXIMUM = 1, 8

pytestmark = pytest.mark.system


def rules(queue: str) -> str:
    return (
        f"jobs:\n  queue: {queue}\n  minimum: {MINIMUM}\n  maximum: {MAXIMUM}\n"
        f"  concurrency: {CONCURRENCY}\n  processing: {PROCESSING}\n  deadline: {DEADLINE}\n"
        "  boot: 3\n"
    )


def finished(stats_dir: Path) -> list[dict[str, float]]:
    return [
        json.loads(line)
        for path in stats_dir.glob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def debug(box: Sandbox, sessions: sessionmaker[Session], tenant: object) -> str:
    st = worker_state(sessions, tenant)  # type: ignore[arg-type]
    reqs = [(r.method, r.path, r.status) for r in box.fake.requests][-20:]
    return f"{st and (st.status, st.memory, st.last_tick_at, st.due_at)} {reqs}"


def test_burst_scales_up_drains_and_the_survivor_scales_back_down(
    sandbox: Sandbox,
    sessions: sessionmaker[Session],
    rabbitmq: str,
    rabbit_queue: Callable[[str], str],
    tmp_path: Path,
) -> None:
    queue = rabbit_queue("e2e")
    stats = tmp_path / "jobs"
    stats.mkdir()
    sandbox.start_web()
    tenant = sandbox.add_tenant(
        app="e2e-app",
        formation={"web": 1, "jobs": MINIMUM},
        rules=rules(queue),
        broker_url=rabbitmq,
        dynos={
            "jobs": consumer_spec(
                rabbitmq,
                queue,
                concurrency=CONCURRENCY,
                processing=PROCESSING,
                boot_delay=3,
                stats_dir=stats,
            )
        },
    )
    runner = tenant.runner
    assert runner is not None
    first, second = sandbox.start_worker(), sandbox.start_worker()
    assert wait_until(lambda: ticks(sessions, tenant) is not None, timeout=60), first.output()
    assert runner.wait_for("jobs", MINIMUM, timeout=30)

    publish(rabbitmq, queue, JOBS)
    assert wait_until(lambda: sandbox.quantity(tenant, "jobs") > MINIMUM, timeout=60), debug(
        sandbox, sessions, tenant
    )
    peak = 0

    def drained() -> bool:
        nonlocal peak
        peak = max(peak, sandbox.quantity(tenant, "jobs"))
        return len({j["job"] for j in finished(stats)}) >= JOBS

    assert wait_until(drained, timeout=300), role_status(sessions, tenant, "jobs")
    waits = sorted(j["done_at"] - j["published_at"] for j in finished(stats))
    assert waits[int(0.99 * len(waits)) - 1] <= DEADLINE, f"p99 wait {waits[-12:]}"
    assert peak > MINIMUM

    first.kill()  # SIGKILL: its leases run out, the other worker takes its tenants
    assert wait_until(lambda: sandbox.quantity(tenant, "jobs") == MINIMUM, timeout=300), (
        role_status(sessions, tenant, "jobs"),
        second.output()[-2000:],
    )
    assert runner.wait_for("jobs", MINIMUM, timeout=60)
    assert second.alive and not first.alive
    check_ledger(sandbox, sessions, tenant)
