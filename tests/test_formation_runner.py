"""The formation runner: real consumer processes follow the fake Heroku's formation."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from guvscale.heroku import HerokuPlatform
from tests.fake_heroku.fixtures import FakeHeroku
from tests.fake_heroku.runner import FormationRunner, ProcessSpec, consumer_spec
from tests.rabbitmq_fixtures import queue_counts
from tests.waiting import wait_until
from tests.workload.publisher import publish


@pytest.fixture
def scaler(fake_heroku: FakeHeroku) -> Iterator[Callable[[dict[str, int]], None]]:
    """Scales acme-app through the fake's real PATCH, as GuvScale's worker would."""
    state = fake_heroku.state
    token = state.add_user_token()
    state.add_app("acme-app", {"jobs": 0, "stubborn": 0}, owner=state.account_of(token).user_id)
    with httpx.Client() as http:
        platform = HerokuPlatform(http, fake_heroku.api_url, "guvscale-test", timeout=10.0)
        yield lambda quantities: platform.scale(token, "acme-app", quantities) and None


def finished_jobs(stats_dir: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in stats_dir.glob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]


def test_dynos_start_consume_and_stop_newest_first(
    fake_heroku: FakeHeroku,
    scaler: Callable[[dict[str, int]], None],
    rabbitmq: str,
    rabbit_queue: Callable[[str], str],
    tmp_path: Path,
) -> None:
    queue = rabbit_queue("runner")
    spec = consumer_spec(
        rabbitmq, queue, concurrency=4, processing=0.05, boot_delay=1.0, stats_dir=tmp_path
    )
    with FormationRunner(fake_heroku.state, "acme-app", {"jobs": spec}, grace=5) as runner:
        scaler({"jobs": 3})
        assert runner.wait_for("jobs", 3, timeout=30)
        # Booting dynos do not consume yet; once booted, each is one consumer.
        assert wait_until(lambda: queue_counts(queue).consumers == 3, timeout=30)

        publish(rabbitmq, queue, 120)
        assert wait_until(lambda: len(finished_jobs(tmp_path)) == 120, timeout=60)
        assert {j["dyno"] for j in finished_jobs(tmp_path)} <= {"jobs.1", "jobs.2", "jobs.3"}

        scaler({"jobs": 1})
        assert runner.wait_for("jobs", 1, timeout=30)
        stops = [e.dyno for e in runner.events if e.what == "sigterm"]
        assert stops == ["jobs.3", "jobs.2"]
        exits = {e.dyno: e.returncode for e in runner.events if e.what == "exit"}
        assert exits == {"jobs.3": 0, "jobs.2": 0}  # stopped cleanly within the grace
        assert wait_until(lambda: queue_counts(queue).consumers == 1, timeout=30)


def test_sigkill_after_the_grace(
    fake_heroku: FakeHeroku, scaler: Callable[[dict[str, int]], None], tmp_path: Path
) -> None:
    ignores_sigterm = ProcessSpec(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(120)",
        ]
    )
    with FormationRunner(
        fake_heroku.state,
        "acme-app",
        {"stubborn": ignores_sigterm},
        grace=0.5,
        poll=0.1,
        log_dir=tmp_path,
    ) as runner:
        scaler({"stubborn": 1})
        assert runner.wait_for("stubborn", 1, timeout=30)
        log = tmp_path / "stubborn.1.log"
        assert wait_until(lambda: log.exists() and "up" in log.read_text(), timeout=30)
        scaler({"stubborn": 0})
        assert runner.wait_for("stubborn", 0, timeout=30)
        kinds = [e.what for e in runner.events]
        assert kinds[:2] == ["start", "sigterm"]
        assert "sigkill" in kinds
        assert [e.returncode for e in runner.events if e.what == "exit"] == [-9]


def test_a_dyno_that_dies_is_started_again_and_no_job_is_lost(
    fake_heroku: FakeHeroku,
    scaler: Callable[[dict[str, int]], None],
    rabbitmq: str,
    rabbit_queue: Callable[[str], str],
    tmp_path: Path,
) -> None:
    queue = rabbit_queue("crash")
    spec = consumer_spec(rabbitmq, queue, concurrency=5, processing=1.0, stats_dir=tmp_path)
    with FormationRunner(
        fake_heroku.state, "acme-app", {"jobs": spec}, grace=5, poll=0.2
    ) as runner:
        scaler({"jobs": 1})
        assert wait_until(lambda: queue_counts(queue).consumers == 1, timeout=30)
        publish(rabbitmq, queue, 40)
        # 40 jobs take it 8 s: kill it once it is busy and has done some.
        assert wait_until(lambda: len(finished_jobs(tmp_path)) >= 5, timeout=30)
        # Killed mid-job, as a crashed dyno: its jobs in hand go back to the queue.
        with runner._lock:
            first = next(d for d in runner._dynos if d.kind == "jobs")
        first.process.kill()
        assert wait_until(lambda: sum(e.what == "start" for e in runner.events) == 2, timeout=30)
        assert wait_until(
            lambda: len({j["job"] for j in finished_jobs(tmp_path)}) == 40, timeout=60
        )
        assert any(j["redelivered"] for j in finished_jobs(tmp_path))
        assert runner.running("jobs") == 1
