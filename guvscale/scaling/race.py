"""Racing the boot (`model`'s docstring, 14): queued jobs due before a late
boot lands get enough dynos that enough of them likely land in time, and so
do the jobs still to come that are due before it too.

Each boot lands on its own, uniformly within ±`BOOT_SPREAD` of its nominal
time; the race asks for the fewest new dynos with which the chance that
enough land by the jobs' due time reaches the percentile, or, where the
maximum cannot reach it, those that each add at least the share the
percentile lets miss.
"""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist

from guvscale.rules.types import Role
from guvscale.scaling.arrivals import ArrivalLog, Piece, jobs_at_least_as_old
from guvscale.scaling.common import BOOT_SPREAD, dynos
from guvscale.scaling.plan import Fleet, kept

# A race is run when more queued jobs are at risk than the percentile lets
# miss of about this many seconds of jobs.
RACE_HORIZON = 3600.0
# Up to this many dynos in a race (booting, and room to add), the landed
# counts are worked out exactly; past it, as normal: the exact work grows
# with the square of the dynos, and a maximum of 10,000 held the shared
# worker's CPU for 28 s a decision.
EXACT_RACE = 400


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
    job_time: float,
    volume: float | None,
    seen_rate: float,
    coming: float,
) -> tuple[int, str]:
    """Dynos to have so that queued jobs a late boot would miss likely get
    one in time: (count, why) or (0, "").

    `soonest_landing`, `now_lands` and `first_help`: when a dyno asked for
    now lands at the earliest, nominally and at the latest; `volume`: the
    publish rate of about the last `RACE_HORIZON`, faded in from the first
    poll; `seen_rate`: the same over the polls seen only; `coming`: the
    publish rate expected while the boot runs, jobs/s."""
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
    # The latest any dyno booting or asked for now lands: a job due before
    # that is at risk if its dyno boots late, not only if none boots early.
    latest = max(new_to, old_to) if fleet.booting else new_to
    # Due at the deadline less the mean run, not the slow run the plan uses:
    # what is at stake is each job's own chance.
    due_by = role.deadline - role.processing
    # A burst that only an early boot may save is raced for as if it can be.
    pieces = log.ready_ages(t, ready, savable=due_by - (soonest + nominal) / 2)
    if due_by - max((p.old for p in pieces), default=0.0) >= latest:
        return 0, ""  # every queued job is due after the next dynos land
    # Jobs published from now until `latest - due_by` are due before the
    # latest landing too: a stream coming back after a quiet spell queues
    # them all behind a boot (young pieces: their ages are negative now).
    ahead = max(0.0, latest - due_by) if coming > 0 else 0.0
    if ahead:
        pieces = [Piece(-ahead, 0.0, coming * ahead), *pieces]
    # Booting dynos count by their chance of landing (below), not at their
    # nominal time.
    keep = kept(replace(fleet, booting=0))

    def short(tau: float) -> float:
        return jobs_at_least_as_old(pieces, due_by - tau) - keep.at(tau)

    lost = max(0.0, short(soonest))  # no boot, however early, saves these
    taus = {soonest + (nominal - soonest) * i / 8 for i in range(8)}
    taus.update(nominal + (latest - nominal) * i / 8 for i in range(8))
    taus.update(due_by - p.old for p in pieces)
    taus.update(due_by - p.young for p in pieces)
    target = role.percentile / 100.0
    # The percentile lets a share of jobs miss: a race for fewer than that
    # share of the jobs of about an hour costs more than the deadline asks.
    # Jobs due before the nominal landing miss unless a boot is early: their
    # share is of an hour's arrivals faded in from the first poll, so a cold
    # start is given no more than its own share to miss. Jobs due after it
    # miss only if their boot is late: their share is of the rate seen (at a
    # cold start, the first rate counts for the hour: racing every late boot
    # of a steady stream's first minutes cost 5 % more dyno-hours).
    misses = 1.0 - target
    # Prefetched jobs are not running: they wait ahead of the queue (`keep`),
    # and more of them is more at risk, never more leave to miss.
    running = fleet.in_flight - fleet.prefetched
    allowed_early = misses * (ready + running + (volume or 0.0) * RACE_HORIZON)
    allowed_late = misses * (ready + running + seen_rate * RACE_HORIZON)
    extra, worst, needed = 0, 0.0, 0
    for at in sorted(x for x in taus if soonest <= x < latest):
        d = short(at) - lost
        if d <= (allowed_early if at < nominal else allowed_late):
            continue
        # A dyno landed by `at` has been starting jobs since it landed: on
        # average half the time since the soonest landing (counting only its
        # first slots asked for hundreds of dynos to start fast jobs).
        ran = max(0.0, at - soonest) / 2
        k = math.ceil(d / (role.concurrency * (1.0 + ran / job_time)) - 1e-9)
        p, q, room = _chance(at, old_from, old_to), _chance(at, new_from, new_to), hi - fleet.size
        if fleet.booting + room <= EXACT_RACE:
            n = _new_dynos(_landed([1.0], p, fleet.booting), q, k, room, extra, target)
        else:
            n = _new_dynos_normal(fleet.booting, p, q, k, room, extra, target)
        extra, worst, needed = max(extra, n), max(worst, d), max(needed, k)
    if worst == 0.0 or (extra == 0 and fleet.booting == 0):
        return 0, ""
    booting = fleet.booting + extra
    # `worst` counts a job whose publish time within its interval is unknown
    # in part: a part of a job is still a job at risk, never "0 jobs".
    jobs = max(1, round(worst))
    noun = "job" if jobs == 1 else "jobs"
    what = (
        f"{jobs:,} {noun}, queued or coming at {coming:.3g} jobs/s,"
        if ahead
        else f"{jobs:,} queued {noun}"
    )
    why = (
        f"racing the boot: {what} {'starts' if jobs == 1 else 'start'} in time only if "
        f"{'a dyno lands' if needed == 1 else f'{needed} dynos land'} early enough, "
        f"so {dynos(booting)} {'boots' if booting == 1 else 'boot'} at once"
    )
    return fleet.size + extra, why


def _new_dynos(dist: list[float], q: float, k: int, room: int, extra: int, target: float) -> int:
    """New dynos, each landing in time with chance `q`, with which the chance
    that at least `k` land (`dist`: the booting ones' landed counts) reaches
    `target`; no fewer than `extra` (an earlier checkpoint's), no more than
    `room`.

    Where even `room` falls short of the target, a dyno is raced only if it
    adds at least the share the percentile lets miss to that chance: past
    that, each bought a sliver of a job (development sparse-16 at 15 s: one
    job's race went from 3 dynos to the maximum of 10, each new one adding
    under 1 % to its chance; 1.85 dyno-hours where dynomatic met with 0.44)."""
    chances = [sum(dist[k:])]
    while len(chances) - 1 < extra or chances[-1] < target:
        if len(chances) - 1 >= room or q == 0.0:
            break
        dist = _landed(dist, q, 1)
        chances.append(sum(dist[k:]))
    n = len(chances) - 1
    if chances[-1] < target:
        while n > extra and chances[n] - chances[n - 1] < 1.0 - target:
            n -= 1
    return n


def _new_dynos_normal(
    booting: int, p: float, q: float, k: int, room: int, extra: int, target: float
) -> int:
    """`_new_dynos` for many dynos, with `booting` ones each landed with
    chance `p`, and the landed counts taken as normal (with a continuity
    correction): the same choice, within a dyno or two of the exact one."""

    def chance(n: int) -> float:
        mean = booting * p + n * q
        var = booting * p * (1 - p) + n * q * (1 - q)
        if var <= 0.0:
            return 1.0 if mean > k - 0.5 else 0.0
        return 1.0 - NormalDist(mean, math.sqrt(var)).cdf(k - 0.5)

    if q == 0.0:
        return 0
    if chance(room) < target:
        n = room
        while n > extra and chance(n) - chance(n - 1) < 1.0 - target:
            n -= 1
        return n
    lo, hi = extra, room  # the fewest from `extra` on that reach the target
    while lo < hi:
        mid = (lo + hi) // 2
        if chance(mid) >= target:
            hi = mid
        else:
            lo = mid + 1
    return lo


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
