"""Local fakes for bench/worker.py: the RabbitMQ management API and Heroku's formation routes.

    python bench/fakes.py PORT ROLES

Plain ASGI (no framework) so the fakes cost little next to the worker they
serve. Every vhost vh{i} has queues q0..q{ROLES-1}, each a small queue
simulation served by app-{i}'s formation: jobs arrive at a rate that wanders
around 5/s (period about an hour, its own phase per queue), role{r}'s dynos
consume them (the bench's rules: concurrency 2, 1 s per job), consumers are
the dynos, and the publish and ack counters are what arrived and what was
served. So decisions change as a real role's do: when the rate moves. (Before,
consumers were stuck at 2 and the depth ignored the dynos, so the model
flapped and a third to over half of all ticks PATCHed.) Heroku: any app has process types
role0..role{ROLES-1}, one dyno each at first; a batch PATCH sets them.
`GET /_bench/counts` says how many of each call were answered. Nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

import json
import math
import sys
import time
import uuid
import zlib
from typing import Any

import uvicorn

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


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path: str = scope["path"]
    method: str = scope["method"]
    status, payload = 404, {"id": "not_found", "message": path}
    if path.startswith("/api/queues/"):
        counts["queues"] += 1
        status, payload = 200, queues(path.split("/")[3])
    elif path.startswith("/apps/") and path.endswith("/formation"):
        name = path.split("/")[2]
        if method == "PATCH":
            counts["formation_patch"] += 1
            kinds = _dynos(name)
            for update in json.loads(body)["updates"]:
                kinds[update["type"]] = update["quantity"]
        else:
            counts["formation_get"] += 1
        status, payload = 200, formation(name)
    elif path == "/_bench/counts":
        status, payload = 200, dict(counts)
    data = json.dumps(payload).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"ratelimit-remaining", b"4000"),
        (b"request-id", str(uuid.uuid4()).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
