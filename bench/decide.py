"""The model's CPU per decision, and a fingerprint of what it decides.

    .venv/bin/python bench/decide.py [--repeat 3]

60 seeded random roles (job times 0.05-45 s, deadlines 30-900 s, boots
10-90 s, concurrency 1-10, maxima 3-20) each take 150 polls 10 s apart of
a crude queue (a rate that wanders, bursts of 100-3,000 jobs, served at
what the dynos decided last poll), with the state saved to JSON and
restored between polls as the worker does. Prints the CPU time of
decide()+state() per decision (best of `repeat`, as this VM is noisy) and a
hash of every decision's desired count and reason: a speed-up that leaves
the hash as it was has changed no decision, so the scaling suite's figures
still hold without a re-run. Pure: no I/O besides the print.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guvscale.rules.types import Role
from guvscale.scaling import Observation, Scaler

ROLES, POLLS, INTERVAL = 60, 150, 10.0


def roles() -> list[Role]:
    rng = random.Random(7)
    made = []
    for i in range(ROLES):
        p = rng.choice([0.05, 0.3, 1.0, 2.0, 10.0, 45.0])
        made.append(
            Role(
                name=f"r{i}",
                worker=f"w{i}",
                queue=f"q{i}",
                processing=p,
                stddev=p * rng.choice([0.1, 0.5, 1.5]),
                deadline=rng.choice([30, 60, 180, 300, 900]),
                concurrency=rng.choice([1, 2, 4, 10]),
                minimum=rng.choice([0, 1]),
                maximum=rng.choice([3, 5, 10, 20]),
                boot=rng.choice([10, 30, 60, 90]),
                pollinterval=INTERVAL,
            )
        )
    return made


def run() -> tuple[str, int, float]:
    """(hash of the decisions, how many, CPU seconds in decide+state)."""
    digest, n, cpu = hashlib.sha256(), 0, 0.0
    for k, role in enumerate(roles()):
        rng = random.Random(k)
        base = rng.choice([0.0, 0.5, 3.0, 20.0])
        state: dict[str, object] = {}
        ready = unacked = 0
        current, t = role.minimum, 1000.0
        for s in range(POLLS):
            t += INTERVAL + rng.random()
            burst = rng.choice([100, 1000, 3000]) / INTERVAL if rng.random() < 0.05 else 0.0
            rate = base * (1 + 0.5 * math.sin(s / 20)) + burst
            total = ready + unacked + rate * INTERVAL
            served = min(total, current * role.concurrency / role.processing * INTERVAL)
            unacked = int(min(total - served, current * role.concurrency))
            ready = int(total - served - unacked)
            scaler = Scaler(role)
            scaler.restore(json.loads(json.dumps(state)))
            obs = Observation(
                t=t,
                ready=ready,
                unacked=unacked,
                consumers=current,
                publish_rate=rate,
                ack_rate=served / INTERVAL,
                current=current,
            )
            began = time.process_time()
            decision = scaler.decide(obs)
            state = scaler.state()
            cpu += time.process_time() - began
            digest.update(f"{decision.desired}|{decision.reason}\n".encode())
            n += 1
            current = decision.desired
    return digest.hexdigest()[:16], n, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run() for _ in range(args.repeat)]
    digest, n, _ = runs[0]
    best = min(cpu for _, _, cpu in runs)
    each = 1000 * best / n
    print(f"{n:,} decisions, hash {digest}: {each:.3f} ms CPU each (best of {len(runs)})")


if __name__ == "__main__":
    main()
