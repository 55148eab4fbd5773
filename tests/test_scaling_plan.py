"""The plan's slot curve (`plan.Slots`) as a table: when job slots come free
for the queued jobs, with jobs in flight beyond the busy slots (a consumer's
prefetch, as Celery's default of 4 per slot keeps) taking them first."""

from __future__ import annotations

import pytest

from guvscale.scaling.arrivals import Piece
from guvscale.scaling.plan import Demand, Fleet, Plan, Slots, demand_of, kept


def fleet(consuming: int, in_flight: int, booting: int = 0, batch: int = 0) -> Fleet:
    return Fleet(
        consuming=consuming,
        booting=booting,
        batch=batch,
        booting_lands=10.0,
        in_flight=in_flight,
        slots=4,
        job_time=1.0,
        outlive=0.0,
        grace=30.0,
    )


@pytest.mark.parametrize(
    "consuming, in_flight, tau, free",
    [
        (1, 0, 0.0, 4.0),  # idle slots are free at once
        (1, 2, 0.0, 2.0),
        (1, 4, 2.0, 8.0),  # every slot busy: each frees once a run
        (1, 16, 2.0, 0.0),  # 12 prefetched go first: nothing for the queue yet
        (1, 16, 3.0, 0.0),
        (1, 16, 5.0, 8.0),
        (2, 8, 1.0, 8.0),  # 8 slots, all busy, none prefetched
        (2, 16, 1.0, 0.0),
        (2, 16, 2.0, 8.0),
    ],
)
def test_jobs_in_flight_beyond_the_busy_slots_take_the_first_slots_that_free(
    consuming: int, in_flight: int, tau: float, free: float
) -> None:
    assert kept(fleet(consuming, in_flight)).at(tau) == pytest.approx(free)


def test_a_landing_dyno_serves_the_queue_while_the_old_ones_work_off_their_prefetch() -> None:
    # One dyno with 12 prefetched, one more landing at 10 s: its 4 slots and
    # its runs are the queue's, the old dyno's only from 3 s on.
    slots = Slots(fleet(1, 16, booting=1), Plan(2, 2, 0.0, 0.0))
    assert slots.at(2.0) == pytest.approx(0.0)
    assert slots.at(10.0) == pytest.approx(4 * 7 + 4)
    assert slots.at(11.0) == pytest.approx(4 * 8 + 4 + 4)


def test_the_prefetch_of_a_shed_dyno_goes_back_ahead_of_the_queue() -> None:
    # Shedding one of two dynos with 16 prefetched each: the kept one works
    # off its own 16 and then the shed one's, handed back to the head of the queue.
    slots = Slots(fleet(2, 40), Plan(1, 1, 0.0, 0.0))
    assert slots.at(8.0) == pytest.approx(0.0)
    assert slots.at(12.0) == pytest.approx(4 * 12 - 16 - 16)


def due_at(tau: float, *, rate: float = 0.0, surge: float = 0.0) -> float:
    """Jobs due by τ for 10 queued jobs 5 s old, budget 20 s, planned 100 s."""
    demand = demand_of(
        [Piece(5.0, 5.0, 10.0)],
        rate,
        100.0,
        20.0,
        now_lands=30.0,
        first_help=40.0,
        later_lands=70.0,
        surge=surge,
        surge_for=16.0,
    )
    return dict(zip(demand.checkpoints, demand.due, strict=True))[tau]


@pytest.mark.parametrize(
    "tau, rate, surge, due",
    [
        (15.0, 0.0, 0.0, 10.0),  # the queued jobs, due at budget less their age
        (15.0, 0.0, 50.0, 10.0),  # what comes next is due a budget after it comes
        (20.0, 2.0, 50.0, 10.0),
        (30.0, 2.0, 0.0, 30.0),  # the rate alone: 10 s of it
        (30.0, 2.0, 50.0, 530.0),  # the surge goes on too
        (36.0, 0.0, 50.0, 810.0),  # for the poll it takes to see it: 16 s of it
        (40.0, 0.0, 50.0, 810.0),  # and no longer
        (40.0, 2.0, 50.0, 850.0),
    ],
)
def test_a_surge_is_planned_to_go_on_until_the_next_poll_sees_it(
    tau: float, rate: float, surge: float, due: float
) -> None:
    assert due_at(tau, rate=rate, surge=surge) == pytest.approx(due)


@pytest.mark.parametrize("tau, free", [(0.0, 0.0), (1.0, 0.0), (1.5, 0.0), (2.0, 4.0), (3.0, 12.0)])
def test_jobs_a_shed_dyno_hands_back_take_the_first_slots_and_no_more(
    tau: float, free: float
) -> None:
    # 3 dynos of 4 slots hold 24 jobs (12 prefetched); shedding one leaves 8
    # prefetched on the kept two and hands 4 back: the kept slots (8 a second)
    # work off their own 8, then the 4, then the queue.
    slots = Slots(fleet(3, 24), Plan(2, 2, 100.0, 200.0))
    assert slots.at(tau) == pytest.approx(free)


def test_shedding_a_dyno_with_prefetched_jobs_is_not_short_when_nothing_is_due() -> None:
    # The handed-back jobs cannot restart at the instant of the stop under any
    # plan, so counting them against it kept every dyno while buffers were full.
    idle_queue = Demand((0.0, 5.0, 60.0), (0.0, 0.0, 0.0))
    assert Slots(fleet(3, 24), Plan(2, 2, 100.0, 200.0)).meets(idle_queue)


# Heroku stops the highest-numbered dynos first, landed or not: those of the
# latest scale-ups (`batch`), among which a booting one is no likelier to go
# than a landed one, then older dynos, all consuming.
@pytest.mark.parametrize(
    "consuming, booting, batch, shed, stopped",
    [
        (2, 14, 16, 14, 1.75),  # a race of 16, 2 landed: 14 shed stop 2 x 14/16 landed
        (2, 14, 16, 16, 2.0),
        (10, 6, 6, 6, 0.0),  # 10 older dynos and a batch of 6, none landed
        (10, 6, 6, 8, 2.0),  # past the batch, older dynos go
        (10, 6, 0, 6, 0.0),  # no batch known: the booting ones are the batch
        (4, 0, 4, 3, 3.0),  # all landed
    ],
)
def test_shedding_stops_the_newest_dynos_landed_or_not(
    consuming: int, booting: int, batch: int, shed: int, stopped: float
) -> None:
    assert fleet(consuming, 0, booting, batch).stopped(shed) == pytest.approx(stopped)
