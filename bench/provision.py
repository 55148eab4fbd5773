"""Provisioning throughput and latency on loopback, through one real uvicorn worker.

    .venv/bin/python bench/provision.py [--count 3000] [--concurrency 8] [--repeats 1000]

Starts a fresh database (embedded PostgreSQL in a temporary folder, or a new
database on the server in DATABASE_URL, dropped afterwards), migrates it,
starts `uvicorn --factory guvscale.web.server:production_app` with one worker
on 127.0.0.1, then sends `count` synchronous provisions with distinct uuids
from `concurrency` keep-alive connections, and `repeats` repeated provisions
of uuids already seen. Prints provisions/s and p50/p90/p99/max latency.
Bounded: every loop ends after a fixed number of requests; nothing leaves
127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port, fresh_database  # noqa: E402
from guvscale.db.migrate import upgrade  # noqa: E402

PASSWORD = "bench-" + secrets.token_hex(8)
HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f"guvscale:{PASSWORD}".encode()).decode(),
    "Content-Type": "application/json",
    "Accept": "application/vnd.heroku-addons+json; version=3",
}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU the process has used (Linux); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(database_url: str, log_path: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GUVSCALE_ENV": "development",
        "ADDON_PASSWORD": PASSWORD,
        "SECRET_KEY": secrets.token_hex(32),
        "PUBLIC_URL": "https://guvscale.example.com",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "guvscale.web.server:production_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log_path}")
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def body(addon_uuid: str) -> bytes:
    return json.dumps(
        {
            "uuid": addon_uuid,
            "name": f"bench-guvscale-{addon_uuid[:8]}",
            "callback_url": f"https://api.heroku.com/addons/{addon_uuid}",
            "plan": "basic",
            "region": "amazon-web-services::us-east-1",
            "options": {},
            "log_input_url": "https://token:t.x@1.us.logplex.io/logs",
        }
    ).encode()


async def load(
    url: str, uuids: list[str], concurrency: int, expect: int
) -> tuple[float, list[float]]:
    """One provision per uuid over `concurrency` keep-alive connections; (seconds, latencies).

    A bare HTTP/1.1 client on asyncio streams: on a 2-core machine the client
    shares the CPU with the server, so it should cost as little as wrk would.
    """
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    head = (
        "POST /heroku/resources HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
        + "Content-Length: {length}\r\n\r\n"
    )
    pending = iter(uuids)
    latencies: list[float] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for addon_uuid in pending:
                payload = body(addon_uuid)
                started = time.perf_counter()
                writer.write(head.format(length=len(payload)).encode() + payload)
                status, length = parse_head(await reader.readuntil(b"\r\n\r\n"))
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                if status != expect:
                    raise RuntimeError(f"expected {expect}, got {status}: {answer[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def parse_head(head: bytes) -> tuple[int, int]:
    """Status and Content-Length of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return status, int(value)
    return status, 0


def measured(
    url: str, pid: int, uuids: list[str], concurrency: int, expect: int
) -> tuple[float, list[float], float | None]:
    """(seconds, latencies, server CPU seconds) for one load phase."""
    before = cpu_seconds(pid)
    seconds, latencies = asyncio.run(load(url, uuids, concurrency, expect))
    after = cpu_seconds(pid)
    cpu = after - before if before is not None and after is not None else None
    return seconds, latencies, cpu


def report(label: str, seconds: float, latencies: list[float], cpu: float | None) -> None:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    # Server CPU per request does not depend on what else the machine is doing.
    per_request = f"  server CPU {cpu * 1000 / len(ms):.2f} ms/req" if cpu is not None else ""
    print(
        f"{label:<22} {len(ms):>6} requests  {len(ms) / seconds:>7.0f}/s  "
        f"p50 {q[49]:5.1f} ms  p90 {q[89]:5.1f} ms  p99 {q[98]:5.1f} ms  "
        f"max {ms[-1]:6.1f} ms{per_request}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()

    with fresh_database() as database_url, tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(database_url)
        upgrade(engine)
        engine.dispose()
        with server(database_url, Path(scratch) / "server.log") as (url, pid):
            warm = [str(uuid.uuid4()) for _ in range(args.warmup)]
            asyncio.run(load(url, warm, args.concurrency, 201))
            fresh = [str(uuid.uuid4()) for _ in range(args.count)]
            first = measured(url, pid, fresh, args.concurrency, 201)
            repeat = measured(url, pid, fresh[: args.repeats], args.concurrency, 200)
    print(
        f"one uvicorn worker on 127.0.0.1, {args.concurrency} concurrent clients, "
        f"database: {'DATABASE_URL server' if os.environ.get('DATABASE_URL') else 'embedded'}"
    )
    report("provision (new uuid)", *first)
    report("provision (repeat)", *repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
