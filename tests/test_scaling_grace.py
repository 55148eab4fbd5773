"""Heroku's stop grace: which dynos a scale-down keeps while long jobs run.

Heroku stops the newest dynos, busy or idle, so keeping only as many dynos
as run jobs still kills some of them; `busy_floor` sheds no more than kill
the share the percentile lets miss, where a killed job could still be redone
in time."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from guvscale.scaling import Decision, Observation, Scaler
from guvscale.scaling.grace import busy_floor
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
        ({}, 5),  # no job could be redone in time: the busy dynos' count
        ({"spare_kills": 0.01}, 8),  # an interval of a thin stream: no kill fits
        ({"spare_kills": 0.5}, 7),  # one dyno's 0.44 fits
        ({"spare_kills": 3.0}, 5),  # six dynos' would: never below the busy count
        ({"spare_kills": 0.01, "budget": 300.0}, 0),  # a redone job starts in time
        ({"spare_kills": 0.01, "outlived": 0.005}, 0),  # jobs finish within the grace
        ({"spare_kills": 0.01, "redelivered": True}, 5),  # a dyno for each job in flight
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


def test_idle_dynos_go_when_no_job_in_flight_could_be_redone_in_time() -> None:
    # The stream stopped 170 s ago: whatever a stop kills is past saving.
    decision = last(polls([0.5] * 3 + [0.0] * 17))
    assert decision == Decision(
        5,
        "scaling down 8 → 5: the 5 jobs in flight, if killed at the stop, "
        "could not be redone in time anyway",
    )
