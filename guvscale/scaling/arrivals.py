"""What arrived when: the lasting publish rate and the ages of the queued jobs.

RabbitMQ shows how many messages wait, not how old they are, yet the deadline
runs from each job's publish time. We log how many jobs were published in each
poll interval; the queue is FIFO, so the `ready` jobs are the newest arrivals,
and walking the log back from now gives their ages.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from itertools import accumulate, pairwise
from typing import Any, NamedTuple


def lasting_rate(rates: list[float], spans: list[float], window: float) -> float:
    """The publish rate we expect to go on, from recent intervals (newest last).

    `spans[i]` is the length of the interval whose rate is `rates[i]`. A rate
    lasts only when it fills more than `window` seconds (longer than a burst)
    and at least three intervals: a burst that crosses a poll boundary fills
    two intervals, so the two busiest are left out and the rest averaged.
    Until that much has been seen, nothing counts as lasting.
    """
    covered, n = 0.0, 0
    for span in reversed(spans[-len(rates) :]):
        covered += span
        n += 1
        if covered > window and n >= 3:
            break
    else:
        return 0.0
    calm = sorted(rates[-n:])[:-2]
    return sum(calm) / len(calm)


class Segment(NamedTuple):
    """`jobs` published between `start` and `end` (a point if equal). `steady`
    of them count towards the mean rate: a stream's, not a burst's nor jobs of
    unknown time. (Tuples, not frozen dataclasses: a decision makes and reads
    hundreds.)"""

    start: float
    end: float
    jobs: float
    steady: float

    @property
    def burst(self) -> bool:
        """Jobs beyond a stream came with it: when each came is unknown."""
        return self.steady < self.jobs


class Piece(NamedTuple):
    """`jobs` whose ages spread evenly over [young, old] (a point if equal)."""

    young: float
    old: float
    jobs: float


class ArrivalLog:
    def __init__(self) -> None:
        self.segments: list[Segment] = []  # oldest first

    def record(
        self, start: float, end: float, published: float, stream: float | None = None
    ) -> None:
        """`published` jobs came between `start` and `end`: evenly, as a stream
        does, or, when more than the `stream` expected (None: no stream known
        yet), with a burst. Then when each came is unknown (`ready_ages`), and
        only the stream's share counts towards the mean rate."""
        if published <= 0 or end < start:
            return
        if stream is not None and published > stream:
            self.segments.append(Segment(start, end, published, max(0.0, stream)))
        else:
            self.segments.append(Segment(start, end, published, published))

    def account_for(self, ready: int, unseen_at: float) -> None:
        """Make the log hold at least `ready` jobs, so unseen ones age from now on.

        Jobs the log cannot account for (we just started, or the rates
        undercounted) are put before everything logged, or at `unseen_at`.
        """
        missing = ready - sum(s.jobs for s in self.segments)
        if missing > 0:
            at = min([s.start for s in self.segments] + [unseen_at])
            self.segments.insert(0, Segment(at, at, float(missing), 0.0))

    def forget_before(self, t: float, keep: int = 0) -> None:
        """Drop intervals that ended before t: their jobs are past any deadline.

        Those still needed to account for the `keep` newest jobs stay: a job
        left waiting that long is late, and must not look young for want of
        its interval.
        """
        held = sum(s.jobs for s in self.segments)
        while self.segments and self.segments[0].end < t and held - self.segments[0].jobs >= keep:
            held -= self.segments.pop(0).jobs

    def mean_rate(self, now: float) -> float:
        """Jobs published per second over the logged intervals up to `now`.

        Unlike `lasting_rate` this averages over all the log holds (up to a
        deadline), so one noisy interval barely moves it. Bursts beyond the
        stream, and jobs `account_for` placed at a guessed time, are left out.
        """
        logged = [s for s in self.segments if s.steady > 0]
        if not logged or now <= logged[0].start:
            return 0.0
        return sum(s.steady for s in logged) / (now - logged[0].start)

    def ready_ages(
        self, now: float, ready: int, worst: bool = False, savable: float | None = None
    ) -> list[Piece]:
        """Ages of the `ready` newest jobs, youngest first (see `account_for`).

        `worst`: when within an interval a job came is unknown, so each is
        given the age of its interval's start, the oldest it can be. A burst's
        jobs always are, as their deadline requires, but no older than
        `savable` (the oldest a job can be and still be saved) when they may
        be younger: aged past it they looked lost and were left to miss, when
        a burst landing just before the poll could all have been saved.
        """
        pieces: list[Piece] = []
        left = float(ready)
        for seg in reversed(self.segments):
            if left <= 0:
                break
            young, old = now - seg.end, now - seg.start
            take = min(left, seg.jobs)
            if worst:
                pieces.append(Piece(old, old, take))
            elif seg.burst:
                age = old if savable is None else max(young, min(old, savable))
                pieces.append(Piece(age, age, take))
            else:
                # The newest `take` of the segment's evenly spread jobs.
                pieces.append(Piece(young, young + (old - young) * take / seg.jobs, take))
            left -= take
        return pieces

    def to_json(self) -> list[list[float]]:
        return [list(s) for s in self.segments]

    @classmethod
    def from_json(cls, data: Any) -> ArrivalLog:
        log = cls()
        log.segments = [_segment(*row) for row in data or []]
        return log


def _segment(
    start: float, end: float, jobs: float, steady: float | None = None, *_burst: object
) -> Segment:
    """A stored segment. States saved before `steady` existed counted spans
    only; a515d15 also stored the burst flag that `steady` now implies."""
    if steady is None:
        steady = jobs if end > start else 0.0
    return Segment(float(start), float(end), float(jobs), float(steady))


def jobs_at_least_as_old(pieces: list[Piece], age: float) -> float:
    """How many of the pieces' jobs are `age` seconds old or older."""
    total = 0.0
    for p in pieces:
        if p.young >= age:
            total += p.jobs
        elif p.old > age:
            total += p.jobs * (p.old - age) / (p.old - p.young)
    return total


def jobs_at_least_as_old_each(pieces: list[Piece], ages: Iterable[float]) -> list[float]:
    """`jobs_at_least_as_old` for many ages at once (the model asks for ~70 a demand,
    of logs up to a deadline long: hundreds of pieces)."""
    ages = list(ages)
    if not pieces:
        return [0.0 for _ in ages]
    youngs = [p.young for p in pieces]
    olds = [p.old for p in pieces]
    counts = [p.jobs for p in pieces]
    if any(a > b for a, b in pairwise(youngs)):
        return [jobs_at_least_as_old(pieces, age) for age in ages]
    # Youngest first, as `ready_ages` gives them: the jobs at least `age` old are
    # those of the pieces from the first no younger than it on, and some of the
    # younger pieces that reach past it (older ends are in order too, but for
    # rounding: the scan stops where no piece so far reaches past `age`).
    older = [0.0] * (len(counts) + 1)
    for i in range(len(counts) - 1, -1, -1):
        older[i] = older[i + 1] + counts[i]
    reach = list(accumulate(olds, max))
    found = []
    for age in ages:
        j = bisect_left(youngs, age)
        total = 0.0
        i = j - 1
        while i >= 0 and reach[i] > age:
            if olds[i] > age:
                total += counts[i] * (olds[i] - age) / (olds[i] - youngs[i])
            i -= 1
        found.append(total + older[j])
    return found
