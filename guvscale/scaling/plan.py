"""The plan: can a number of dynos start every job in time?

Time τ counts seconds from now. A job meets its deadline when it starts by its
start-by time (the deadline less its run, see `common.start_by`). The queue is
FIFO, so what matters at each checkpoint τ is how many jobs must have started by then
(`Demand`, from the queued jobs' ages and the arrivals we expect) against how
many job slots have come free by then (`starts`).

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

from dataclasses import dataclass


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

    @property
    def size(self) -> int:
        return self.consuming + self.booting


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


def starts(fleet: Fleet, plan: Plan, tau: float) -> float:
    """Job slots come free by τ under the plan (jobs that can have started)."""
    per_slot = 1.0 / fleet.job_time
    shed = max(0, fleet.size - plan.now)
    booting = max(0, fleet.booting - shed)
    stopped = max(0, shed - fleet.booting)  # consuming dynos shed
    consuming = fleet.consuming - stopped
    idle_now = max(0, fleet.consuming * fleet.slots - fleet.in_flight)
    share_kept = consuming / fleet.consuming if fleet.consuming else 0.0

    def landed(count: int, at: float) -> float:
        # All its slots at once on landing, then each frees once per run.
        if count <= 0 or tau < at:
            return 0.0
        return count * fleet.slots * (1.0 + per_slot * (tau - at))

    total = idle_now * share_kept + consuming * fleet.slots * per_slot * tau
    total += landed(booting, fleet.booting_lands)
    total += landed(plan.now - fleet.size, plan.now_lands)
    total += landed(plan.later - plan.now, plan.later_lands)
    if stopped and tau >= fleet.grace:
        # Jobs killed at the grace go back to the head of the queue, ahead of
        # every waiting job: they take slots the waiting ones would have had.
        total -= fleet.in_flight * (1.0 - share_kept) * fleet.outlive
    return total


def works(fleet: Fleet, plan: Plan, demand: Demand, first_help: float) -> bool:
    """Does the plan start every checkpoint's due jobs in time?

    Checkpoints before `first_help` come too soon for any dyno asked for now
    (boot times vary): no number of new dynos can save them, so they only
    forbid shedding capacity they still rely on.
    """
    keep = Plan(fleet.size, fleet.size, plan.now_lands, plan.later_lands)
    for tau, due in zip(demand.checkpoints, demand.due, strict=True):
        if tau < first_help:
            due = min(due, starts(fleet, keep, tau))
        if starts(fleet, plan, tau) < due - 1e-6:
            return False
    return True
