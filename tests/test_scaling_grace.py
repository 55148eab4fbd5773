"""Heroku's stop grace: which dynos a scale-down keeps while long jobs run.

Heroku stops the newest dynos, busy or idle, so keeping only as many dynos
as run jobs still kills some of them; `busy_floor` sheds no more than kill
the share the percentile lets miss, while the jobs in flight could still meet
their deadline (killed, they are redone late or lost)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from guvscale.scaling import Decision, Observation, Scaler
from guvscale.scaling.grace import busy_floor
from guvscale.scaling.model import DeadlineModel
from tests.factories import scaling_role as role

# 8 dynos, 5 minute-long jobs in flight (one a dyno), no queue; 70 % of such
# jobs outlast the 30 s grace. A shed dyno kills 5/8 x 0.7 ≈ 0.44 of a job.
BASE: dict[str, Any] = dict(
    size=8,
    unacked=5,
    oldest=0.0,
    concurrency=1,
    job_time=60.0,
    budget=100.0,
    outlived=0.7,
    redelivered=False,
    spare_kills=None,
)


@pytest.mark.parametrize(
    ("changes", "kept"),
    [
        ({}, 5),  # every job in flight is late already: the busy dynos' count
        ({"spare_kills": 0.01}, 8),  # an interval of a thin stream: no kill fits
        ({"spare_kills": 0.5}, 7),  # one dyno's 0.44 fits
        ({"spare_kills": 3.0}, 5),  # six dynos' would: never below the busy count
        ({"spare_kills": 0.01, "budget": 300.0}, 0),  # a redone job starts in time
        ({"spare_kills": 0.01, "outlived": 0.005}, 0),  # jobs finish within the grace
        ({"spare_kills": 0.01, "redelivered": True}, 5),  # a dyno for each job in flight
        # The 4 newest dynos are booting, so stopped first, with no job to
        # kill; the 3 jobs in flight run on the other 4.
        ({"spare_kills": 0.01, "unacked": 3, "stopped": lambda k: max(0, k - 4)}, 4),
        ({"spare_kills": 0.01, "stopped": lambda k: max(0, k - 4)}, 5),  # never below the busy
        # Half of the newest 4 landed: each of those shed stops half a
        # consuming dyno (5 jobs over 6 consuming: 0.29 of a kill); two fit
        # in 0.6, not three.
        ({"spare_kills": 0.6, "stopped": lambda k: min(k, 4) / 2 + max(0, k - 4)}, 6),
        ({"spare_kills": 0.01, "unacked": 0}, 0),
        ({"spare_kills": 0.01, "size": 0}, 0),
    ],
)
def test_busy_floor(changes: dict[str, Any], kept: int) -> None:
    args = {**BASE, **changes}
    size, unacked, oldest = args.pop("size"), args.pop("unacked"), args.pop("oldest")
    assert busy_floor(size, unacked, oldest, **args) == kept


# Development slow-5's role: minute-long jobs (cv 0.75), 347 s deadline, one a dyno.
SLOW = dataclasses.replace(
    role(processing=60.0, stddev=45.0, deadline=347, concurrency=1, minimum=1, maximum=10),
    boot=55.0,
    pollinterval=10.0,
)


def polls(rates: list[float]) -> list[Observation]:
    return [
        Observation(
            t=10.0 * i, ready=0, unacked=5, consumers=8, current=8, publish_rate=r, ack_rate=r
        )
        for i, r in enumerate(rates)
    ]


def last(observations: list[Observation]) -> Decision:
    scaler = Scaler(SLOW)
    decisions = [scaler.decide(o) for o in observations]
    return decisions[-1]


def test_idle_dynos_are_kept_while_young_long_jobs_run() -> None:
    # 8 → 5 stopped dynos that ran two of the five jobs, which then missed.
    assert last(polls([0.1] * 30)) == Decision(
        8, "holding 8: 5 jobs in flight could outrun the 30 s stop grace and be redone"
    )


def test_idle_dynos_stay_while_jobs_in_flight_could_meet_though_not_redone() -> None:
    # The stream stopped 170 s ago: a job killed now would start again too
    # late, but left to run it ends within the 347 s deadline. Shedding as
    # if it were lost anyway killed 3 jobs of development slow-5 at 60 s.
    assert last(polls([0.5] * 3 + [0.0] * 17)) == Decision(
        8, "holding 8: 5 jobs in flight could outrun the 30 s stop grace and be redone"
    )


def test_idle_dynos_go_when_every_job_in_flight_is_past_its_deadline() -> None:
    # The stream stopped 400 s ago, longer than the deadline: nothing in
    # flight can meet it, and the log, kept that long, holds none of them.
    decision = last(polls([0.5] * 3 + [0.0] * 40))
    assert decision == Decision(
        5, "scaling down 8 → 5: the 5 jobs in flight, already past the deadline, are not waited for"
    )


@pytest.mark.parametrize(("deadline", "waited_for"), [(347, True), (200, False)])
def test_jobs_in_flight_are_not_waited_for_where_the_deadline_cannot_be_met(
    deadline: int, waited_for: bool
) -> None:
    # At 200 s the jobs' 99th percentile outruns the deadline and the model
    # plans with no budget: dynos kept for jobs that might still meet it
    # cost 40 % more dyno-hours for a fifth of a point (development
    # heavytail), where no policy met it.
    scaler = Scaler(dataclasses.replace(SLOW, deadline=deadline))
    for o in polls([0.1] * 30):
        scaler.decide(o)
    model = scaler.model
    assert isinstance(model, DeadlineModel)
    assert (model.budget > 0) is waited_for
    assert model._in_flight_may_meet(0) is waited_for
