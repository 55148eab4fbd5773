"""The plan: can a number of dynos start every job in time?

Time τ counts seconds from now. A job meets its deadline when it starts by its
start-by time (the deadline less its run, see `common.start_by`). The queue is
FIFO, so what matters at each checkpoint τ is how many jobs must have started by then
(`Demand`, from the queued jobs' ages and the arrivals we expect) against how
many job slots have come free by then (`Slots`).

Slots come free like this: a dyno has `concurrency` slots; each busy slot
frees about once per `processing` seconds; a dyno that lands (boots) brings
all its slots at once; slots idle now are free at once. A plan works when, at
every checkpoint, starts >= due.

A plan has two stages: `now` dynos (the answer to this poll) and, from the
moment a later poll's request could land, `later` dynos. Letting `later`
exceed `now` is how the model uses the deadline's slack: a queue that can wait
is left to wait, as long as the dynos a later poll would add can still catch up.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from guvscale.scaling.arrivals import Piece, jobs_at_least_as_old_each

# Checkpoints per plan, besides the exact ones where the due count jumps.
GRID_POINTS = 60


@dataclass(frozen=True)
class Fleet:
    """The dynos we have and what they are doing.

    Heroku stops the newest dynos first, so shedding takes booting ones before
    consuming ones (which is also what costs nothing). A consuming dyno that is
    stopped gets the stop grace to finish its jobs; those that outlast it
    (`outlive`, a share) come back to the head of the queue.
    """

    consuming: int
    booting: int
    booting_lands: float  # τ at which the booting dynos consume
    in_flight: int  # jobs being run (unacked)
    slots: int  # concurrency
    job_time: float  # processing, s
    outlive: float  # share of in-flight jobs that outlast the stop grace
    grace: float  # s
    # Dynos asked for by the scale-ups whose boots may not all have landed:
    # the newest, which hold every booting one. 0: not known.
    batch: int = 0

    @property
    def size(self) -> int:
        return self.consuming + self.booting

    @property
    def prefetched(self) -> int:
        """Jobs in flight beyond the busy slots: they wait in a consumer's
        prefetch (Celery keeps 4 a slot by default), not running."""
        return max(0, self.in_flight - self.consuming * self.slots)

    def stopped(self, shed: int) -> float:
        """Consuming dynos that shedding `shed` stops, on average.

        Heroku stops the highest-numbered dynos first, landed or not: the
        newest `batch`, whose booting ones are no likelier to go than those
        of them that landed, then older ones, all consuming. Taking the
        booting ones to go first shed 14 of a race's 16 dynos, 2 of them
        landed, to keep 2 for a queue of 262, and Heroku stopped a landed one
        (development onoff-26 at 10 s: 80 jobs of that minute late where the
        fastest had 28). With no batch known, the booting ones are the batch."""
        batch = min(self.size, max(self.batch, self.booting))
        inside = min(shed, batch)
        landed = (batch - self.booting) / batch if batch else 1.0
        return inside * landed + max(0, shed - batch)


@dataclass(frozen=True)
class Demand:
    """Jobs that must have started by each checkpoint τ (cumulative, FIFO order)."""

    checkpoints: tuple[float, ...]
    due: tuple[float, ...]


@dataclass(frozen=True)
class Plan:
    now: int  # formation quantity to ask for at this poll
    later: int  # what a later poll may raise it to
    now_lands: float  # τ at which dynos asked for now start consuming
    later_lands: float  # τ at which dynos asked for later start consuming


@dataclass(frozen=True)
class Poll:
    """The load a poll saw: jobs queued, jobs in flight, the stream that goes on."""

    ready: int
    unacked: int
    lasting: float  # publish rate we expect to go on, jobs/s
    # A burst this interval held, beyond the lasting rate, jobs/s: it may still
    # be coming until the next poll sees whether it goes on.
    surge: float = 0.0
    # The rate shown to last, before this interval's fall or rise is believed
    # (`lasting` is then that belief), jobs/s.
    shown: float = 0.0

    @property
    def load(self) -> str:
        stream = f" plus {self.lasting:.3g} jobs/s" if self.lasting else ""
        if self.surge:
            joint = " and" if self.lasting else " plus"
            stream += f"{joint} {self.surge:.3g} jobs/s more that may go on"
        return f"backlog {self.ready + self.unacked:,}{stream}"


@dataclass(frozen=True)
class Sizing:
    """The fleets the plan allows at a poll."""

    need: int  # fewest dynos that start every job in time, reinforced from the next poll on
    ample: int  # the fleet to scale to: copes with reinforcements one boot late
    busy: int  # dynos kept because they run long jobs that a stop would kill
    short: bool  # not even the maximum starts every job in time
    # The youngest job in flight could still meet its deadline if left to
    # run (asked only where a stop kills jobs in flight; False elsewhere):
    # the busy floor held dynos for it, and the reason says so.
    may_meet: bool = False


class Slots:
    """Job slots come free by τ under a plan (jobs that can have started).

    The curve is worked out once per fleet and plan, as the model asks it at
    every checkpoint of every candidate plan (hundreds of times a decision).
    """

    __slots__ = (
        "_ahead",
        "_back",
        "_base",
        "_grace",
        "_killed",
        "_landings",
        "_per_slot",
        "_slope",
    )

    def __init__(self, fleet: Fleet, plan: Plan) -> None:
        per_slot = 1.0 / fleet.job_time
        shed = max(0, fleet.size - plan.now)
        stopped = fleet.stopped(shed)
        booting = max(0.0, fleet.booting - (shed - stopped))
        consuming = fleet.consuming - stopped
        idle_now = max(0, fleet.consuming * fleet.slots - fleet.in_flight)
        share_kept = consuming / fleet.consuming if fleet.consuming else 0.0
        # Prefetched jobs on kept dynos take the slots the dynos free first;
        # those on shed ones are handed back to the head of the queue, ahead of all.
        self._ahead = fleet.prefetched * share_kept
        self._back = fleet.prefetched * (1.0 - share_kept)
        self._per_slot = per_slot
        self._base = idle_now * share_kept
        self._slope = consuming * fleet.slots * per_slot
        # Dynos that land bring all their slots at once, then each frees once per run.
        self._landings = tuple(
            (count * fleet.slots, at)
            for count, at in (
                (booting, fleet.booting_lands),
                (plan.now - fleet.size, plan.now_lands),
                (plan.later - plan.now, plan.later_lands),
            )
            if count > 0
        )
        # Jobs killed at the grace go back to the head of the queue, ahead of
        # every waiting job: they take slots the waiting ones would have had.
        self._killed = fleet.in_flight * (1.0 - share_kept) * fleet.outlive if stopped else 0.0
        self._grace = fleet.grace

    def at(self, tau: float) -> float:
        total = max(0.0, self._base + self._slope * tau - self._ahead)
        for slots, at in self._landings:
            if tau >= at:
                total += slots * (1.0 + self._per_slot * (tau - at))
        # Jobs handed back take the first slots; until they have, none is
        # left for the queue, but no plan is short for it (any plan that sheds
        # a dyno hands them back at once, and none restarts them at once).
        total = max(0.0, total - self._back)
        if self._killed and tau >= self._grace:
            total -= self._killed
        return total

    def meets(self, demand: Demand) -> bool:
        """`at(τ) >= due` at every checkpoint. `at` written out in one loop, the
        same sums in the same order: this runs about a thousand times a decision."""
        base, slope, per_slot = self._base, self._slope, self._per_slot
        ahead, back = self._ahead, self._back
        landings, killed, grace = self._landings, self._killed, self._grace
        for tau, due in zip(demand.checkpoints, demand.due, strict=True):
            total = max(0.0, base + slope * tau - ahead)
            for slots, at in landings:
                if tau >= at:
                    total += slots * (1.0 + per_slot * (tau - at))
            total = max(0.0, total - back)
            if killed and tau >= grace:
                total -= killed
            if total < due - 1e-6:
                return False
        return True


def demand_of(
    pieces: list[Piece],
    rate: float,
    horizon: float,
    budget: float,
    *,
    now_lands: float,
    first_help: float,
    later_lands: float,
    surge: float = 0.0,
    surge_for: float = 0.0,
) -> Demand:
    """Jobs that must have started by each checkpoint: queued ones by age
    (`pieces`), and arrivals at `rate` for `horizon` seconds from now, each due
    `budget` seconds after its publish, and `surge` more a second for the
    first `surge_for` seconds. `now_lands`, `first_help` and `later_lands`:
    when dynos asked for now land, at the latest, and when a later poll's
    land at worst."""
    # Past the soonest a late boot lands, so jobs no dyno saves before it
    # are still planned for (with no slack they are all due at once).
    end = max(budget + horizon, later_lands)
    taus = {0.0, budget, end, now_lands, first_help, later_lands}
    if surge:
        taus.add(budget + surge_for)
    taus.update([end * i / GRID_POINTS for i in range(GRID_POINTS)])
    taus.update([budget - p.old for p in pieces])
    taus.update([budget - p.young for p in pieces])
    checkpoints = tuple(sorted([t for t in taus if 0.0 <= t <= end]))
    queued = jobs_at_least_as_old_each(pieces, [budget - tau for tau in checkpoints])
    if rate == 0.0 and surge == 0.0:
        return Demand(checkpoints, tuple(queued))
    due = tuple(
        [
            q
            + rate * min(max(0.0, tau - budget), horizon)
            + surge * min(max(0.0, tau - budget), surge_for)
            for q, tau in zip(queued, checkpoints, strict=True)
        ]
    )
    return Demand(checkpoints, due)


def kept(fleet: Fleet) -> Slots:
    """The slot curve of the fleet as it is: no dyno added, none shed."""
    return Slots(fleet, Plan(fleet.size, fleet.size, 0.0, 0.0))


def reachable(fleet: Fleet, demand: Demand, first_help: float) -> Demand:
    """The demand any plan can be held to.

    Checkpoints before `first_help` come too soon for any dyno asked for now
    (boot times vary): no number of new dynos can save them, so they only
    forbid shedding capacity they still rely on.
    """
    keep = kept(fleet)
    due = tuple(
        [
            min(d, keep.at(tau)) if tau < first_help else d
            for tau, d in zip(demand.checkpoints, demand.due, strict=True)
        ]
    )
    return Demand(demand.checkpoints, due)


def covers(fleet: Fleet, plan: Plan, demand: Demand) -> bool:
    """Does the plan start every checkpoint's due jobs (a `reachable` demand) in time?"""
    return Slots(fleet, plan).meets(demand)


def smallest(lo: int, hi: int, ok: Callable[[int], bool], hint: int | None = None) -> int | None:
    """The smallest k in [lo, hi] with ok(k), for an ok that stays true once true.

    `hint`, a likely answer (the dynos running: most polls hold), is tried
    first with the one below it: two checks instead of a bisection's five
    when it is the answer, and a bisection of what is left when it is not.
    """
    if lo > hi:
        return None
    if hint is not None and lo <= hint <= hi:
        if not ok(hint):
            lo = hint + 1
        elif hint == lo or not ok(hint - 1):
            return hint
        else:
            hi = hint - 1  # ok there: the answer is at most that
    candidates = range(lo, hi + 1)
    i = bisect_left(candidates, True, key=ok)
    return candidates[i] if i < len(candidates) else None
