"""Racing the boot (`model`'s docstring, 14): queued jobs that only an early
boot can still start in time get enough dynos that one likely boots early.

Each boot lands on its own, uniformly within ±`BOOT_SPREAD` of its nominal
time; the race asks for the fewest new dynos with which the chance that
enough land by the jobs' due time reaches the percentile.
"""

from __future__ import annotations

import math

from guvscale.rules.types import Role
from guvscale.scaling.arrivals import ArrivalLog, jobs_at_least_as_old
from guvscale.scaling.common import BOOT_SPREAD, dynos
from guvscale.scaling.plan import Fleet, kept

# A race for jobs only an early boot saves is run when more of them wait than
# the percentile lets miss of about this many seconds of jobs.
RACE_HORIZON = 3600.0


def boot_race(
    role: Role,
    fleet: Fleet,
    log: ArrivalLog,
    t: float,
    ready: int,
    hi: int,
    *,
    soonest_landing: float,
    first_help: float,
    now_lands: float,
    volume: float | None,
) -> tuple[int, str]:
    """Dynos to have so that queued jobs only an early boot can start in
    time likely get one: (count, why) or (0, "").

    `soonest_landing`, `now_lands` and `first_help`: when a dyno asked for
    now lands at the earliest, nominally and at the latest; `volume`: the
    publish rate of about the last `RACE_HORIZON`."""
    boot = role.boot
    if ready == 0 or boot <= 0 or (fleet.size >= hi and fleet.booting == 0):
        return 0, ""
    spread = BOOT_SPREAD * boot
    new_from, new_to = soonest_landing, first_help
    # Booting dynos that have not landed land at any time left of their window.
    old_from = max(0.0, fleet.booting_lands - spread)
    old_to = max(old_from, fleet.booting_lands + spread)
    soonest = min(new_from, old_from) if fleet.booting else new_from
    nominal = min(now_lands, fleet.booting_lands) if fleet.booting else now_lands
    # Due at the deadline less the mean run, not the slow run the plan uses:
    # what is at stake is each job's own chance.
    due_by = role.deadline - role.processing
    # A burst that only an early boot may save is raced for as if it can be.
    pieces = log.ready_ages(t, ready, savable=due_by - (soonest + nominal) / 2)
    if due_by - max((p.old for p in pieces), default=0.0) >= nominal:
        return 0, ""  # every queued job is due after the next dynos land
    keep = kept(fleet)

    def short(tau: float) -> float:
        return jobs_at_least_as_old(pieces, due_by - tau) - keep.at(tau)

    lost = max(0.0, short(soonest))  # no boot, however early, saves these
    taus = {soonest + (nominal - soonest) * i / 8 for i in range(8)}
    taus.update(due_by - p.old for p in pieces)
    taus.update(due_by - p.young for p in pieces)
    target = role.percentile / 100.0
    extra, worst, needed = 0, 0.0, 0
    for at in sorted(x for x in taus if soonest <= x < nominal):
        d = short(at) - lost
        if d < 1e-6:
            continue
        k = math.ceil(d / role.concurrency - 1e-9)
        q_old = _chance(at, old_from, old_to)
        q_new = _chance(at, new_from, new_to)
        # Landed counts' chances, adding one new dyno at a time.
        dist = _landed([1.0], q_old, fleet.booting)
        n = 0
        while n < extra or sum(dist[k:]) < target:
            if fleet.size + n >= hi or q_new == 0.0:
                break
            dist = _landed(dist, q_new, 1)
            n += 1
        extra, worst, needed = max(extra, n), max(worst, d), max(needed, k)
    # The percentile lets a share of jobs miss: a race for fewer than that
    # share of the jobs of about an hour costs more than the deadline asks.
    coming = (volume or 0.0) * RACE_HORIZON
    allowed = (1.0 - target) * (ready + fleet.in_flight + coming)
    if worst <= allowed or (extra == 0 and fleet.booting == 0):
        return 0, ""
    why = (
        f"racing the boot: {worst:,.0f} queued jobs start in time only if "
        f"{'a dyno boots' if needed == 1 else f'{needed} dynos boot'} early, "
        f"so {dynos(fleet.booting + extra)} boot at once"
    )
    return fleet.size + extra, why


def _chance(at: float, lo: float, to: float) -> float:
    """Chance that a boot landing uniformly within [lo, to] has landed by `at`."""
    return 0.0 if to <= lo else min(1.0, max(0.0, (at - lo) / (to - lo)))


def _landed(dist: list[float], q: float, trials: int) -> list[float]:
    """`dist[i]`: chance that i dynos landed; the same after `trials` more,
    each landing with chance q."""
    for _ in range(trials):
        dist = [
            (dist[i] if i < len(dist) else 0.0) * (1 - q) + (dist[i - 1] * q if i else 0.0)
            for i in range(len(dist) + 1)
        ]
    return dist
