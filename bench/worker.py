"""Worker throughput: role decisions per second, one process then two; storage per role.

    .venv/bin/python bench/worker.py [--tenants 1500] [--roles 4] [--processes 1,2]
                                     [--warmup 60] [--measure 60] [--concurrency 50]

Starts a fresh database (embedded PostgreSQL in a temporary folder, or a new
database on the server in DATABASE_URL, dropped afterwards), migrates it,
and makes `tenants` provisioned add-ons on the performance plan (10 s poll)
with `roles` roles each. A local fakes process (bench/fakes.py) answers the
management API (`GET /api/queues/{vhost}`: every tenant its own vhost, with
queue depths that wander slowly) and Heroku's formation routes (GET and
batch PATCH, any app). Then, for each process count, that many worker
processes (this file with --child: `guvscale.worker.run.run_once` in a
loop, in real time) share the tenants through the leases. The first
`warmup` seconds (rules parsing, formation reads, the first scale of every
app and the re-reads after it) are not counted; the next `measure` seconds
are. With more roles than a process can poll every 10 s, the figure is the
capacity; it also prints each process's decisions per CPU-second, which
depends far less on what else the machine runs.

Then bytes per stored sample (raw and rollups, from pg_total_relation_size
over the partitions) and what 10,000 roles at 10 s need. Bounded: fixed
tenant counts and durations; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, fresh_database  # noqa: E402
from guvscale.db.crypto import Vault  # noqa: E402
from guvscale.db.migrate import upgrade  # noqa: E402
from guvscale.records import partitions, rollups  # noqa: E402
from guvscale.settings import Settings  # noqa: E402

INTERVAL = 10  # the performance plan's poll, seconds
SAMPLES_PER_DAY = 86400 // INTERVAL


@contextmanager
def fakes(roles: int) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "fakes.py"), str(port), str(roles)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(url + "/api/queues/probe", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("bench fakes did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def seed(database_url: str, key: str, fakes_url: str, tenants: int, roles: int) -> None:
    vault = Vault([key])
    engine = create_engine(database_url)
    port = httpx.URL(fakes_url).port
    rules = "".join(
        f"role{r}:\n  queue: q{r}\n  minimum: 0\n  maximum: 20\n  processing: 1\n"
        f"  deadline: 60\n  concurrency: 2\n"
        for r in range(roles)
    )
    now = dt.datetime.now(dt.UTC)
    rows_r, rows_c, rows_v = [], [], []
    for i in range(tenants):
        rid = f"gvs-bench{i:06d}"
        rows_r.append({"id": rid, "uuid": f"00000000-0000-4000-8000-{i:012d}", "app": f"app-{i}"})
        rows_c.append(
            {
                "rid": rid,
                "tok": vault.encrypt(f"token-{i}"),
                "amqp": vault.encrypt(f"amqp://u:p@127.0.0.1:1/vh{i}"),
                "mgmt": vault.encrypt(f"http://u:p@127.0.0.1:{port}"),
                "app": f"app-{i}",
            }
        )
        rows_v.append({"rid": rid, "yaml": rules, "at": now})
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO resources (id, heroku_uuid, app_name, plan, region, state, dry_run) "
                "VALUES (:id, :uuid, :app, 'performance', 'amazon-web-services::us-east-1', "
                "'provisioned', false)"
            ),
            rows_r,
        )
        conn.execute(
            text(
                "INSERT INTO credentials (resource_id, heroku_token_enc, rabbitmq_url_enc, "
                "management_url_enc, heroku_app_name) VALUES (:rid, :tok, :amqp, :mgmt, :app)"
            ),
            rows_c,
        )
        conn.execute(
            text(
                "INSERT INTO rules_versions (resource_id, version, yaml_text, author, created_at) "
                "VALUES (:rid, 1, :yaml, 'bench', :at)"
            ),
            rows_v,
        )
    engine.dispose()


def fake_counts(fakes_url: str) -> dict[str, int]:
    """How many queue reads, formation reads and PATCHes the fakes have answered."""
    answer: dict[str, int] = httpx.get(fakes_url + "/_bench/counts", timeout=10).json()
    return answer


def child(args: argparse.Namespace) -> None:
    """One worker process in real time: rounds for warm-up + measure seconds; prints counts."""
    from guvscale import wiring
    from guvscale.worker.run import run_loop, run_once

    settings = Settings(
        database_url=args.db,
        encryption_keys=args.key,
        heroku_api_url=args.fakes,
        worker_concurrency=args.concurrency,
        worker_batch=args.batch,
        worker_tenant_timeout=30.0,
    )

    async def main() -> dict[str, Any]:
        async with wiring.worker(settings, name=args.name) as w:
            counted: dict[str, Any] = {
                "decisions": 0,
                "seconds": 0.0,
                "cpu": 0.0,
                "errors": 0,
                "heroku_calls": 0,
                "error_kinds": Counter(),
            }
            began = time.monotonic()
            measure_from = began + args.warmup
            measure_to = measure_from + args.measure
            cpu_at = None
            while time.monotonic() < measure_to:
                report = await run_once(w)  # real time: tenants are due every 10 s
                if time.monotonic() >= measure_from:
                    if cpu_at is None:  # the first round inside the window starts it
                        cpu_at, wall_at = time.process_time(), time.monotonic()
                        calls_at = fake_counts(args.fakes)
                        continue
                    counted["decisions"] += report.counters.decisions
                    counted["errors"] += sum(report.counters.errors.values())
                    counted["error_kinds"].update(report.counters.errors)
                    counted["heroku_calls"] += report.counters.heroku_calls
                if report.claimed == 0:
                    await asyncio.sleep(0.1)
            if cpu_at is not None:
                counted["seconds"] = time.monotonic() - wall_at
                counted["cpu"] = time.process_time() - cpu_at
                # Every process sees all processes' calls: the parent takes one window's.
                ended = fake_counts(args.fakes)
                counted.update({k: ended[k] - calls_at[k] for k in ended})
            return counted

    profile = os.environ.get("GVS_BENCH_PROFILE")
    if profile:  # where the time goes: GVS_BENCH_PROFILE=/tmp/w.prof
        import cProfile

        with cProfile.Profile() as prof:
            result = run_loop(main())
        prof.dump_stats(profile)
    else:
        result = run_loop(main())
    print(json.dumps(result))


def run_processes(
    count: int, database_url: str, key: str, fakes_url: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    # Every run starts from an empty lease table and a start time all processes share.
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM tenant_worker_state"))
    engine.dispose()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                # name=value: a Fernet key may begin with "-".
                f"--db={database_url}",
                f"--key={key}",
                f"--fakes={fakes_url}",
                f"--warmup={args.warmup}",
                f"--measure={args.measure}",
                f"--name=bench-{count}-{i}",
                f"--concurrency={args.concurrency}",
                f"--batch={args.batch}",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        for i in range(count)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=1800)
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def storage(database_url: str, roles: int) -> dict[str, float]:
    """Bytes per sample in each table, measured after filling them with a day's worth."""
    engine = create_engine(database_url)
    day = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    series = range(1, roles + 1)
    with engine.begin() as conn:
        partitions.maintain(conn, day)
        conn.execute(text("TRUNCATE role_samples, role_samples_1m, role_samples_10m, rollup_marks"))
        # One hour of raw samples for `roles` series, shaped like the worker writes them.
        conn.execute(
            text(
                "INSERT INTO role_samples (series_id, at, ready, unacked, consumers, publish_rate, "
                "ack_rate, current, desired, partial) "
                "SELECT s, :t0 + make_interval(secs => 10 * i), (random() * 500)::int, "
                "(random() * 20)::int, (random() * 10)::int, random() * 30, random() * 30, "
                "(random() * 10)::int, (random() * 10)::int, false "
                "FROM generate_series(1, :n) s, generate_series(0, 359) i"
            ),
            {"t0": day, "n": len(series)},
        )
        conn.execute(
            text("INSERT INTO rollup_marks (name, done_until) VALUES ('1m', :t), ('10m', :t)"),
            {"t": day},
        )
        rollups.run(conn, day + dt.timedelta(hours=1, minutes=1))
    with engine.connect() as conn:
        sizes = {}
        for table in ("role_samples", "role_samples_1m", "role_samples_10m"):
            total = sum(
                conn.execute(text("SELECT pg_total_relation_size(:p)"), {"p": p}).scalar() or 0
                for p in partitions.existing(conn, table)
            )
            rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 1
            sizes[table] = total / rows
    engine.dispose()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1500)
    parser.add_argument("--roles", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not counted")
    parser.add_argument("--measure", type=float, default=60.0, help="seconds counted")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--storage-roles", type=int, default=2000)
    # Child mode (one worker process), used by the parent.
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--db", "--key", "--fakes", "--name"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    key = Fernet.generate_key().decode()
    with fresh_database() as database_url, fakes(args.roles) as fakes_url:
        engine = create_engine(database_url)
        upgrade(engine)
        engine.dispose()
        seed(database_url, key, fakes_url, args.tenants, args.roles)
        roles_total = args.tenants * args.roles
        print(
            f"{args.tenants} tenants x {args.roles} roles = {roles_total} roles, "
            f"warm-up {args.warmup:g} s, measured {args.measure:g} s, "
            f"concurrency {args.concurrency}, "
            f"{os.cpu_count()} CPUs"
        )
        for count in (int(c) for c in args.processes.split(",")):
            results = run_processes(count, database_url, key, fakes_url, args)
            per = [r["decisions"] / r["seconds"] if r["seconds"] else 0.0 for r in results]
            wall = max(r["seconds"] for r in results)
            total = sum(r["decisions"] for r in results)
            errors = sum(r["errors"] for r in results)
            kinds: Counter[str] = Counter()
            for r in results:
                kinds.update(r.get("error_kinds", {}))
            why = ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
            # Tenant ticks in the window, each one queue read; the windows overlap.
            reads = max(r.get("queues", 0) for r in results) or 1
            patches = max(r.get("formation_patch", 0) for r in results)
            rereads = max(r.get("formation_get", 0) for r in results)
            per_cpu = [r["decisions"] / r["cpu"] if r["cpu"] else 0.0 for r in results]
            print(
                f"{count} process(es): {total / wall:,.0f} decisions/s total; per process "
                + ", ".join(f"{p:,.0f}/s" for p in per)
                + " (per CPU-second of each: "
                + ", ".join(f"{p:,.0f}" for p in per_cpu)
                + f"); {total:,.0f} decisions, {errors:,.0f} errors"
                + (f" ({why})" if why else "")
                + ", "
                f"{sum(r.get('heroku_calls', 0) for r in results):,.0f} Heroku calls"
                f"\n  tenant ticks that PATCHed a formation: {patches / reads:.1%}, "
                f"that re-read one: {rereads / reads:.1%}"
            )
        sizes = storage(database_url, args.storage_roles)
    raw, minute, ten = sizes["role_samples"], sizes["role_samples_1m"], sizes["role_samples_10m"]
    per_day = raw * SAMPLES_PER_DAY + minute * 1440 + ten * 144
    held = raw * SAMPLES_PER_DAY / 4 + minute * 1440 * 7 + ten * 144 * 90
    print(
        f"bytes per sample (with indexes): raw {raw:.0f}, 1-min {minute:.0f}, 10-min {ten:.0f}\n"
        f"per role per day written: {per_day / 1e6:.2f} MB; held per role at retention "
        f"(6 h raw, 7 d 1-min, 90 d 10-min): {held / 1e6:.2f} MB\n"
        f"10,000 roles at {INTERVAL} s: {86_400 // INTERVAL * 10_000 / 1e6:.1f} M raw rows/day, "
        f"{per_day * 10_000 / 1e9:.1f} GB written/day, {held * 10_000 / 1e9:.1f} GB held"
    )


if __name__ == "__main__":
    main()
