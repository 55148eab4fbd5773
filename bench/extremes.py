"""The model's slowest decision on roles at the rules' limits.

    .venv/bin/python bench/extremes.py [--seeds 12]

Every tenant shares the worker, so no rules a tenant may save should cost it
seconds a decision. Each seed draws 40 roles from the far ends of what the
rules accept (jobs of 0.01 s to 30 days, 1 to 65,535 jobs a dyno, maxima of
1 to 10,000 dynos, deadlines of 3 s to 30 days, 0.01 to 10,000 jobs/s) and
runs each through 12 polls 30 s apart of a crude queue (what came less what
the dynos finished; a fifth of the polls a sudden backlog). Prints how many
decisions ran and the slowest one's CPU time and role. Pure: no I/O besides
the print.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guvscale.rules.types import Role
from guvscale.scaling import Observation, Scaler

ROLES_A_SEED, POLLS, INTERVAL = 40, 12, 30.0


def role(rng: random.Random) -> Role:
    p = 10 ** rng.uniform(-2, 6.4)
    return Role(
        name="r",
        worker="w",
        queue="q",
        processing=p,
        stddev=p * rng.uniform(0, 3),
        deadline=10 ** rng.uniform(0.5, 6.4),
        concurrency=rng.choice([1, 10, 1000, 65535]),
        minimum=0,
        maximum=rng.choice([1, 100, 10_000]),
        boot=rng.uniform(1, 300),
        pollinterval=INTERVAL,
    )


def run(seed: int) -> tuple[int, float, str]:
    """(decisions, slowest CPU seconds, what the slowest role was)."""
    rng = random.Random(seed)
    n, worst, what = 0, 0.0, ""
    for _ in range(ROLES_A_SEED):
        r, rate = role(rng), 10 ** rng.uniform(-2, 4)
        scaler, current, queued = Scaler(r), 1, 0
        for i in range(POLLS):
            if rng.random() < 0.8:
                done = current * r.concurrency / r.processing * INTERVAL
                queued = max(0, int(queued + rate * INTERVAL - done))
            else:
                queued = int(rate * 1000)
            obs = Observation(
                t=INTERVAL * i,
                ready=queued,
                unacked=min(queued, current * r.concurrency),
                consumers=current,
                publish_rate=rate,
                ack_rate=min(rate, current * r.concurrency / r.processing),
                current=current,
            )
            t0 = time.process_time()
            current = scaler.decide(obs).desired
            took = time.process_time() - t0
            n += 1
            if took > worst:
                worst = took
                what = (
                    f"processing {r.processing:.3g} s, concurrency {r.concurrency}, "
                    f"maximum {r.maximum}, deadline {r.deadline:.3g} s, {rate:.3g} jobs/s"
                )
    return n, worst, what


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    args = parser.parse_args()
    total, worst, what = 0, 0.0, ""
    for seed in range(args.seeds):
        n, w, about = run(seed)
        total += n
        if w > worst:
            worst, what = w, about
    print(f"{total:,} decisions; the slowest took {worst:.3f} s of CPU ({what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
