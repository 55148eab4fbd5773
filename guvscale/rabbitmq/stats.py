"""Queue statistics as the rest of GuvScale sees them, whichever way they were read."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueStats:
    name: str
    ready: int
    unacked: int
    consumers: int
    published: int | None  # cumulative message_stats.publish counter
    acked: int | None  # cumulative message_stats.ack counter
    publish_rate: float | None  # RabbitMQ's own sampled rate, informational
    ack_rate: float | None
    # True when the broker left out a count (stats not emitted yet, or read over
    # AMQP): a zero here may be missing data, so it must never justify scaling down.
    partial: bool = False
