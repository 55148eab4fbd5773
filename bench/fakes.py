"""Local fakes for bench/worker.py: the RabbitMQ management API and Heroku's formation routes.

    python bench/fakes.py PORT ROLES

A bare asyncio protocol on uvloop (not uvicorn, whose h11 parser cost a
sixth of a core at the bench's load) so the fakes cost little next to the
worker processes they serve on the same cores.

Every vhost vh{i} has queues q0..q{ROLES-1}, each a small queue simulation
served by app-{i}'s formation: jobs arrive at a rate that wanders around 5/s
(period about an hour, its own phase per queue), role{r}'s dynos consume
them (the bench's rules: concurrency 2, 1 s per job), consumers are the
dynos, and the publish and ack counters are what arrived and what was
served. So decisions change as a real role's do: when the rate moves.
(Before, consumers were stuck at 2 and the depth ignored the dynos, so the
model flapped and a third to over half of all ticks PATCHed.) Heroku: any
app has process types role0..role{ROLES-1}, one dyno each at first; a batch
PATCH sets them.
`GET /_bench/counts` says how many of each call were answered. Nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
import uuid
import zlib
from typing import Any
from urllib.parse import unquote

import uvloop

ROLES = int(sys.argv[2]) if len(sys.argv) > 2 else 4
CONCURRENCY = 2  # the bench's rules: concurrency 2, processing 1 s
JOBS_PER_DYNO = CONCURRENCY / 1.0
formations: dict[str, dict[str, int]] = {}
# (vhost, queue index) -> [last read time, ready, published, acked]
simulated: dict[tuple[str, int], list[float]] = {}
counts: dict[str, int] = {"queues": 0, "formation_get": 0, "formation_patch": 0}


def _dynos(app: str) -> dict[str, int]:
    return formations.setdefault(app, {f"role{r}": 1 for r in range(ROLES)})


def queues(vhost: str) -> list[dict[str, Any]]:
    now = time.time()
    dynos = _dynos("app-" + vhost.removeprefix("vh"))
    seed = zlib.crc32(vhost.encode())
    out = []
    for r in range(ROLES):
        phase = (seed % 997) / 997 * 6.28 + r
        rate = 5 + 4 * math.sin(now / 600 + phase)
        consumers = dynos.get(f"role{r}", 0)
        state = simulated.setdefault((vhost, r), [now, 0.0, 0.0, 0.0])
        elapsed = max(0.0, now - state[0])
        arrived = rate * elapsed
        served = min(state[1] + arrived, consumers * JOBS_PER_DYNO * elapsed)
        state[:] = [now, state[1] + arrived - served, state[2] + arrived, state[3] + served]
        out.append(
            {
                "name": f"q{r}",
                "messages_ready": int(state[1]),
                "messages_unacknowledged": min(int(state[1]), consumers * CONCURRENCY),
                "consumers": consumers,
                "message_stats": {
                    "publish": int(state[2]),
                    "ack": int(state[3]),
                    "publish_details": {"rate": rate},
                    "ack_details": {"rate": served / elapsed if elapsed else 0.0},
                },
            }
        )
    return out


def formation(app: str) -> list[dict[str, Any]]:
    kinds = _dynos(app)
    return [
        {
            "app": {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, app)), "name": app},
            "command": "python worker.py",
            "created_at": "2026-12-01T00:00:00Z",
            "dyno_size": {"id": "e2f5a1b0-0000-4000-8000-000000000001", "name": "Standard-1X"},
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, app + kind)),
            "quantity": quantity,
            "size": "Standard-1X",
            "type": kind,
            "updated_at": "2026-12-01T00:00:00Z",
        }
        for kind, quantity in kinds.items()
    ]


def route(method: str, path: str, body: bytes) -> tuple[int, Any]:
    if path.startswith("/api/queues/"):
        counts["queues"] += 1
        return 200, queues(path.split("/")[3])
    if path.startswith("/apps/") and path.endswith("/formation"):
        name = path.split("/")[2]
        if method == "PATCH":
            counts["formation_patch"] += 1
            kinds = _dynos(name)
            for update in json.loads(body)["updates"]:
                kinds[update["type"]] = update["quantity"]
        else:
            counts["formation_get"] += 1
        return 200, formation(name)
    if path == "/_bench/counts":
        return 200, dict(counts)
    return 404, {"id": "not_found", "message": path}


class Http(asyncio.Protocol):
    """HTTP/1.1 with keep-alive for the worker's requests (Content-Length bodies,
    no chunking, no pipelining beyond what arrives in order): a fifth of what
    uvicorn with h11 cost per request, which the worker processes then get."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's is no asyncio.Transport subclass
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            lines = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = lines[0].split(" ", 2)
            status, payload = route(method, unquote(target.partition("?")[0]), body)
            data = json.dumps(payload).encode()
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"ratelimit-remaining: 4000\r\nrequest-id: %s\r\n\r\n%s"
                % (
                    status,
                    b"OK" if status == 200 else b"Not Found",
                    len(data),
                    str(uuid.uuid4()).encode(),
                    data,
                )
            )


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
