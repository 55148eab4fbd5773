"""Dyno-hours and dollars of a period, beside the same period at the maximum. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from guvscale.pricing import hourly_usd


@dataclass(frozen=True)
class Cost:
    role: str
    dynosize: str
    hours: float  # of the period covered by samples
    dyno_hours: float
    max_dyno_hours: float  # the same period at the maximum
    usd: float | None  # None: no list price for the size
    max_usd: float | None

    @property
    def saving(self) -> float | None:
        """Share of the at-maximum cost not spent (0..1); None for an empty period."""
        if self.max_dyno_hours <= 0:
            return None
        return 1.0 - self.dyno_hours / self.max_dyno_hours


def dyno_hours(points: Sequence[tuple[float, float | None]], end: float) -> tuple[float, float]:
    """(dyno-hours, hours covered) of a step series of (unix seconds, dynos):
    each count holds until the next point, the last until `end`; an unknown
    count (None) holds the one before it."""
    if not points:
        return 0.0, 0.0
    total = 0.0
    held: float | None = None
    for (t, n), nxt in zip(points, [*(p[0] for p in points[1:]), end], strict=True):
        held = n if n is not None else held
        if held is not None and nxt > t:
            total += held * (nxt - t)
    covered = max(0.0, end - points[0][0])
    return total / 3600, covered / 3600


def cost(
    role: str,
    dynosize: str,
    maximum: int,
    points: Sequence[tuple[float, float | None]],
    end: float,
) -> Cost:
    used, hours = dyno_hours(points, end)
    at_max = maximum * hours
    price = hourly_usd(dynosize)
    return Cost(
        role=role,
        dynosize=dynosize,
        hours=hours,
        dyno_hours=used,
        max_dyno_hours=at_max,
        usd=None if price is None else used * price,
        max_usd=None if price is None else at_max * price,
    )
