"""The worker transport's keep-alive across polls: client CPU per TLS GET on a
new connection each time (what a keep-alive expiry shorter than the poll
gives) against one reused connection (HTTP_KEEPALIVE past the poll).

    .venv/bin/python bench/keepalive.py [--requests 300] [--runs 3]

A raw TLS server (tests/raw_server.py, a self-signed certificate for
localhost, ECDSA P-256 as most public hosts now serve) runs in a child
process, so the figures are this process's CPU only: the client's handshake
and its request. Runs alternate between the two modes. Bounded: a fixed
count of sequential requests to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import free_port  # noqa: E402
from guvscale.httpclient import async_client  # noqa: E402
from tests.raw_server import self_signed  # noqa: E402

SERVER = """
import asyncio, ssl, sys
from tests.raw_server import RawServer, ok
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server = RawServer(lambda request, n: ok(b'{"messages_ready": 0}'))

async def main():
    listening = await asyncio.start_server(
        server.handle, "127.0.0.1", int(sys.argv[3]), ssl=context
    )
    print("ready", flush=True)
    async with listening:
        await listening.serve_forever()

asyncio.run(main())
"""


async def cpu_per_request(url: str, trusted: ssl.SSLContext, expiry: float, n: int) -> float:
    async with async_client(
        timeout=5, max_connections=4, keepalive_expiry=expiry, verify=trusted
    ) as client:
        await client.get(url)  # the first connection is made in both modes
        began = time.process_time()
        for _ in range(n):
            answer = await client.get(url)
            assert answer.status_code == 200
        return (time.process_time() - began) / n


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cert, key = self_signed(Path(folder))
        trusted = ssl.create_default_context(cafile=str(cert))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(cert), str(key), str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"
            url = f"https://localhost:{port}/api/queues/v"
            figures: dict[str, list[float]] = {"new connection": [], "reused": []}
            for _ in range(args.runs):
                # Expiry 0: every request makes a new connection, as 5 s did at 10 s polls.
                figures["new connection"].append(
                    asyncio.run(cpu_per_request(url, trusted, 0.0, args.requests))
                )
                figures["reused"].append(
                    asyncio.run(cpu_per_request(url, trusted, 75.0, args.requests))
                )
        finally:
            server.terminate()
            server.wait()
    print(f"client CPU per TLS GET, {args.requests} sequential requests, {args.runs} runs:")
    for mode, values in figures.items():
        shown = ", ".join(f"{v * 1e6:,.0f}" for v in values)
        print(f"  {mode:>14}: {shown} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
