"""What a simulated poll shows the policy: the `Observation` from the counts.

Shared by both simulators (`engine` and `stepsim`), which count jobs and
dynos in their own ways but must show a policy the same figures from the same
counts: what RabbitMQ's management API and the formation would show at t.
"""

from __future__ import annotations

import datetime as dt

from guvscale.scaling.types import Observation


def observe(
    t: float,
    *,
    ready: int,
    published: int,
    done: int,
    seen_published: int,
    seen_done: int,
    interval: float,
    consumers: int,
    current: int,
    epoch: dt.datetime,
) -> Observation:
    """The poll at t.

    ready: jobs waiting in the queue; published, done: jobs published and
    acknowledged since the start, so those delivered and not yet acked are
    the rest; seen_published, seen_done: the same two counts at the previous
    poll, `interval` seconds ago, for the rates. consumers: dynos consuming;
    current: the formation quantity last requested; epoch: the wall clock
    at t = 0.
    """
    return Observation(
        t=t,
        ready=ready,
        unacked=published - done - ready,
        consumers=consumers,
        publish_rate=(published - seen_published) / interval,
        ack_rate=(done - seen_done) / interval,
        current=current,
        now=epoch + dt.timedelta(seconds=t),
    )
