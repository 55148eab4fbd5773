"""The burst3k headline, live: 3,000 jobs at once on the real RabbitMQ, scaled by
GuvScale's own web and worker processes through the fake Heroku, whose formation
runner starts and stops real consumer processes.

    .venv/bin/python bench/burst.py                      # burst3k as the brief gives it
    .venv/bin/python bench/burst.py --boot 5 --poll 2    # a quicker look

burst3k (../shared/scaling.md): 3,000 jobs at once, 1 s each (lognormal, cv 0.3),
deadline 180 s, concurrency 1, 0-25 dynos. Dynos here boot in `--boot` seconds
(Heroku's are ~30) and get Heroku's 30 s between SIGTERM and SIGKILL; GuvScale
polls every `--poll` seconds (the performance plan's 10 by default).

Reports time to peak and back to the minimum (from the publish), the share of
jobs done within the deadline (misses counted), p50/p99 wait, and dyno-hours
billed (from each scale request, as Heroku bills). Starts a fresh database
(embedded PostgreSQL in a temporary folder, or a new database on DATABASE_URL's
server, dropped afterwards). Bounded: it stops when the formation is back at
the minimum or after --timeout seconds; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guvscale.db.engine import embedded_url
from guvscale.db.migrate import upgrade
from tests.fake_heroku.runner import consumer_spec
from tests.fake_heroku.server import FakeHerokuServer
from tests.sandbox import Sandbox
from tests.waiting import wait_until
from tests.workload.publisher import publish

AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"


def rules(queue: str, args: argparse.Namespace) -> str:
    return (
        f"jobs:\n  queue: {queue}\n  minimum: {args.minimum}\n  maximum: {args.maximum}\n"
        f"  concurrency: {args.concurrency}\n  processing: {args.processing}\n"
        f"  stddev: {args.processing * args.cv}\n  deadline: {args.deadline}\n"
        f"  boot: {args.boot}\n"
    )


def lognormal(mean: float, cv: float, rng: random.Random) -> float:
    sigma = math.sqrt(math.log(1 + cv * cv))
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def fresh_database(workdir: Path) -> tuple[str, str | None]:
    """(url, server url to drop it from) — embedded unless DATABASE_URL is set."""
    server = os.environ.get("DATABASE_URL")
    if not server:
        return embedded_url(workdir / "pg"), None
    server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    name = "gvs_burst_" + secrets.token_hex(4)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False), server


def drop_database(url: str, server: str | None) -> None:
    if server is None:
        return
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def on_broker(work: Callable[[Any], object]) -> None:
    """One short AMQP connection (a long idle one is dropped for missed heartbeats)."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP))
    try:
        work(connection.channel())
    finally:
        connection.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def dyno_seconds(changes: list[tuple[float, int]], start: float, end: float, first: int) -> float:
    """Integral of the formation's quantity over [start, end]."""
    total, quantity, at = 0.0, first, start
    for moment, new in changes:
        if moment < start:
            quantity = new
            continue
        total += quantity * (min(moment, end) - at)
        quantity, at = new, min(moment, end)
    return total + quantity * max(0.0, end - at)


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="gvs-burst-"))
    stats = workdir / "jobs"
    stats.mkdir()
    queue = f"gvs-bench-burst-{secrets.token_hex(4)}"
    url, server = fresh_database(workdir)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    on_broker(lambda channel: channel.queue_declare(queue))
    fake = FakeHerokuServer()
    fake.start()
    box = Sandbox(url, fake.state, fake.url, workdir, poll_seconds=args.poll)
    try:
        box.start_web()
        tenant = box.add_tenant(
            app="burst-app",
            formation={"jobs": args.minimum},
            rules=rules(queue, args),
            broker_url=AMQP,
            dynos={
                "jobs": consumer_spec(
                    AMQP,
                    queue,
                    concurrency=args.concurrency,
                    processing=args.processing,
                    boot_delay=args.boot,
                    stats_dir=stats,
                )
            },
            grace=30,
        )
        for _ in range(args.workers):
            box.start_worker()
        state = fake.state
        assert wait_until(
            lambda: any(r.path.endswith("/formation") for r in state.requests), timeout=120
        ), "the worker never read the formation"
        rng = random.Random(args.seed)
        times = [lognormal(args.processing, args.cv, rng) for _ in range(args.jobs)]
        started = time.time()
        publish(AMQP, queue, args.jobs, processing=lambda i: times[i])
        published = time.time()

        def finished() -> list[dict[str, float]]:
            return [
                json.loads(line)
                for path in stats.glob("*.jsonl")
                for line in path.read_text().splitlines()
                if line.strip()
            ]

        def back_at_minimum() -> bool:
            done = {j["job"] for j in finished()}
            return len(done) >= args.jobs and box.quantity(tenant, "jobs") == args.minimum

        settled = wait_until(back_at_minimum, timeout=args.timeout, every=0.5)
        ended = time.time()
        jobs = finished()
    finally:
        box.stop()
        fake.stop()
        on_broker(lambda channel: channel.queue_delete(queue))
        drop_database(url, server)

    changes = [(t, b) for app, _, _, b, t in box.transitions if app == "burst-app"]
    peak = max((q for _, q in changes), default=args.minimum)
    peak_at = next((t for t, q in changes if q == peak), started)
    back_at = next((t for t, q in changes if t > peak_at and q == args.minimum), None)
    first_done = {}
    for j in jobs:
        first_done.setdefault(j["job"], j)
    waits = [j["done_at"] - j["published_at"] for j in first_done.values()]
    misses = sum(w > args.deadline for w in waits)
    billed = dyno_seconds(changes, started, back_at or ended, args.minimum)
    work = sum(times) / args.concurrency
    return {
        "jobs": args.jobs,
        "done": len(first_done),
        "redelivered": sum(bool(j.get("redelivered")) for j in jobs),
        "publish_s": round(published - started, 1),
        "peak": peak,
        "time_to_peak_s": round(peak_at - started, 1),
        "back_to_min_s": round(back_at - started, 1) if back_at else None,
        "within_deadline_pct": round(100 * (1 - misses / max(1, len(waits))), 2),
        "deadline_misses": misses,
        "p50_wait_s": round(percentile(waits, 50), 1) if waits else None,
        "p99_wait_s": round(percentile(waits, 99), 1) if waits else None,
        "dyno_hours": round(billed / 3600, 3),
        "efficiency": round(billed / work, 2) if work else None,
        "scale_changes": len(changes),
        "settled": settled,
        "settings": {
            k: getattr(args, k)
            for k in ("deadline", "processing", "cv", "concurrency", "boot", "poll", "workers")
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--processing", type=float, default=1.0)
    parser.add_argument("--cv", type=float, default=0.3)
    parser.add_argument("--deadline", type=float, default=180)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--minimum", type=int, default=0)
    parser.add_argument("--maximum", type=int, default=25)
    parser.add_argument("--boot", type=float, default=30)
    parser.add_argument("--poll", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()
    figures = run(args)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
