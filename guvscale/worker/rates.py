"""Rates from cumulative counters: the difference over the real time between reads.

RabbitMQ's own `*_details.rate` is a 5 s sample, far shorter than a poll
interval: one quiet or busy moment would stand for the whole interval.
"""

from __future__ import annotations


def counter_rate(
    previous: int | None, previous_at: float | None, value: int | None, at: float
) -> float | None:
    """Messages/s between two reads; None when unknown (first read, reset, no counter)."""
    if previous is None or previous_at is None or value is None:
        return None
    elapsed = at - previous_at
    if elapsed <= 0 or value < previous:
        return None  # clock went back, or the queue was re-created and its counter reset
    return (value - previous) / elapsed
