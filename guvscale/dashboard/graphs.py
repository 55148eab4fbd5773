"""Per role: queue, rates and workers charts with scaling events as markers. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from guvscale.dashboard.charts import Chart, Line, Marker
from guvscale.dashboard.queries import Point, failed
from guvscale.db.worker_models import ScalingEvent


@dataclass(frozen=True)
class RoleGraphs:
    role: str
    queue: Chart
    rates: Chart
    workers: Chart
    latest: Point | None


def _marker(e: ScalingEvent) -> Marker:
    change = f"{'?' if e.from_quantity is None else e.from_quantity} → {e.to_quantity}"
    return Marker(e.at.timestamp(), f"{change} ({e.outcome}): {e.reason}", bad=failed(e))


def _sum(a: int | None, b: int | None) -> int | None:
    return None if a is None else a + (b or 0)


def role_graphs(
    role: str, points: Sequence[Point], events: Sequence[ScalingEvent], start: float, end: float
) -> RoleGraphs:
    markers = [_marker(e) for e in events if e.role == role]
    return RoleGraphs(
        role=role,
        queue=Chart(
            f"{role}: messages in the queue",
            start,
            end,
            [
                Line("waiting + in progress", [(p.at, _sum(p.ready, p.unacked)) for p in points]),
                Line("waiting (ready)", [(p.at, p.ready) for p in points], dashed=True),
            ],
            markers,
            integer=True,
        ),
        rates=Chart(
            f"{role}: jobs per second",
            start,
            end,
            [
                Line("published /s", [(p.at, p.publish_rate) for p in points]),
                Line("acknowledged /s", [(p.at, p.ack_rate) for p in points], dashed=True),
            ],
            markers,
            unit="/s",
        ),
        workers=Chart(
            f"{role}: worker dynos",
            start,
            end,
            [
                Line("current", [(p.at, p.current) for p in points], step=True),
                Line("desired", [(p.at, p.desired) for p in points], step=True, dashed=True),
            ],
            markers,
            integer=True,
        ),
        latest=points[-1] if points else None,
    )


def all_graphs(
    names: Sequence[str],
    points: Mapping[str, Sequence[Point]],
    events: Sequence[ScalingEvent],
    start: float,
    end: float,
) -> list[RoleGraphs]:
    ordered = [*names, *sorted(set(points) - set(names))]
    return [role_graphs(n, points.get(n, ()), events, start, end) for n in ordered]
