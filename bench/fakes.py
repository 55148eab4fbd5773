"""Local fakes for bench/worker.py: the RabbitMQ management API and Heroku's formation routes.

    python bench/fakes.py PORT ROLES

Plain ASGI (no framework) so the fakes cost little next to the worker they
serve. Every vhost has queues q0..q{ROLES-1} whose depth wanders with time
(so decisions change now and then) and whose publish/ack counters grow.
Heroku: any app has process types role0..role{ROLES-1}; a batch PATCH sets
them. Nothing leaves 127.0.0.1.
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
formations: dict[str, dict[str, int]] = {}
START = time.time()


def queues(vhost: str) -> list[dict[str, Any]]:
    t = time.time() - START
    seed = zlib.crc32(vhost.encode())
    out = []
    for r in range(ROLES):
        phase = (seed % 997) / 997 * 6.28 + r
        rate = 5 + 5 * math.sin(t / 6000 + phase)
        ready = max(0, int(100 * math.sin(t / 3000 + phase)))
        out.append(
            {
                "name": f"q{r}",
                "messages_ready": ready,
                "messages_unacknowledged": ready // 10,
                "consumers": 2,
                "message_stats": {
                    "publish": int(5 * t - 30000 * math.cos(t / 6000 + phase)) + 10000,
                    "ack": int(5 * t) + 1000,
                    "publish_details": {"rate": rate},
                    "ack_details": {"rate": rate},
                },
            }
        )
    return out


def formation(app: str) -> list[dict[str, Any]]:
    kinds = formations.setdefault(app, {f"role{r}": 1 for r in range(ROLES)})
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
        status, payload = 200, queues(path.split("/")[3])
    elif path.startswith("/apps/") and path.endswith("/formation"):
        name = path.split("/")[2]
        if method == "PATCH":
            kinds = formations.setdefault(name, {f"role{r}": 1 for r in range(ROLES)})
            for update in json.loads(body)["updates"]:
                kinds[update["type"]] = update["quantity"]
        status, payload = 200, formation(name)
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
