"""guvscale.scaling.arrivals: ages of the queued jobs, counted per checkpoint."""

from __future__ import annotations

import random

import pytest

from guvscale.scaling.arrivals import (
    ArrivalLog,
    Piece,
    jobs_at_least_as_old,
    jobs_at_least_as_old_each,
)

PIECES = [Piece(0.0, 10.0, 100.0), Piece(10.0, 10.0, 50.0), Piece(10.0, 30.0, 20.0)]


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (-1.0, 170.0),  # every job
        (0.0, 170.0),
        (5.0, 50.0 + 50.0 + 20.0),  # half the first piece
        (10.0, 50.0 + 20.0),  # the point piece counts at its own age
        (20.0, 10.0),
        (30.0, 0.0),
        (99.0, 0.0),
    ],
)
def test_jobs_at_least_as_old(age: float, expected: float) -> None:
    assert jobs_at_least_as_old(PIECES, age) == pytest.approx(expected)


def _logged(rng: random.Random) -> tuple[list[Piece], float]:
    log, t = ArrivalLog(), 0.0
    for _ in range(rng.randrange(1, 90)):
        span = rng.uniform(5, 60)
        log.record(
            t, t + span, rng.choice([0.0, 3.0, 400.0]) * rng.random(), rng.choice([None, 0.0, 50.0])
        )
        t += span
    log.account_for(rng.randrange(0, 5000), unseen_at=t - 10)
    return log.ready_ages(t, rng.randrange(0, 5000), worst=rng.random() < 0.5), t


@pytest.mark.parametrize("seed", range(40))
def test_counting_every_checkpoint_at_once_agrees_with_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    pieces, t = _logged(rng)
    ages = [rng.uniform(-10, t + 10) for _ in range(70)] + [p.young for p in pieces]
    if seed % 4 == 0:
        rng.shuffle(pieces)  # out of order: the slow path, same answers
    found = jobs_at_least_as_old_each(pieces, ages)
    assert found == pytest.approx(
        [jobs_at_least_as_old(pieces, a) for a in ages], rel=1e-12, abs=1e-9
    )


@pytest.mark.parametrize(
    ("published", "stream", "ages", "mean"),
    [
        # No stream known yet, or no more than it: spread evenly, all counted.
        (30.0, None, [(0.0, 10.0, 30.0)], (30.0 + 30.0) / 20.0),
        (30.0, 40.0, [(0.0, 10.0, 30.0)], (30.0 + 30.0) / 20.0),
        # More than the stream: all aged from the interval's start, and only
        # the stream's share is a rate (a rising stream whose intervals all
        # count as bursts must not look like no stream at all).
        (90.0, 40.0, [(10.0, 10.0, 90.0)], (30.0 + 40.0) / 20.0),
    ],
)
def test_an_interval_beyond_the_stream_is_aged_from_its_start_and_rated_at_the_stream(
    published: float, stream: float | None, ages: list[tuple[float, float, float]], mean: float
) -> None:
    log = ArrivalLog()
    log.record(0.0, 10.0, 30.0)
    log.record(10.0, 20.0, published, stream)
    assert log.ready_ages(20.0, int(published)) == [Piece(*a) for a in ages]
    assert log.mean_rate(20.0) == pytest.approx(mean)
    again = ArrivalLog.from_json(log.to_json())
    assert again.segments == log.segments


def test_a_log_saved_before_the_steady_count_restores_counting_spans_only() -> None:
    log = ArrivalLog.from_json([[0.0, 10.0, 30.0], [10.0, 10.0, 90.0]])
    assert log.mean_rate(20.0) == pytest.approx(30.0 / 20.0)


@pytest.mark.parametrize(
    ("savable", "age"),
    [
        (None, 30.0),  # a burst's jobs: the oldest they can be, the interval's start
        (40.0, 30.0),  # savable even so
        (25.0, 25.0),  # too old to save if they came at its start, but they may be younger
        (5.0, 10.0),  # too old even if they came at its end: as young as they can be
    ],
)
def test_a_bursts_jobs_are_no_older_than_savable_when_they_may_be_younger(
    savable: float | None, age: float
) -> None:
    log = ArrivalLog()
    log.record(0.0, 20.0, 400.0, stream=10.0)
    assert log.ready_ages(30.0, 400, savable=savable) == [Piece(age, age, 400.0)]
    assert log.ready_ages(30.0, 400, worst=True, savable=savable) == [Piece(30.0, 30.0, 400.0)]
