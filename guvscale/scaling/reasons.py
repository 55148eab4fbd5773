"""Why a poll scales up, sheds or holds, in words (`model`'s docstring, 13: a
reason claims the backlog finishes in time only when the dynos it keeps do so
alone)."""

from __future__ import annotations

from guvscale.rules.types import Role
from guvscale.scaling.common import dynos, seconds
from guvscale.scaling.grace import STOP_GRACE, stop_kills
from guvscale.scaling.plan import Poll, Sizing


def up(
    size: int,
    desired: int,
    poll: Poll,
    short: bool,
    role: Role,
    planned: int,
    rest_for: str,
) -> str:
    """`short`: not even the maximum, `desired`, starts every job in time;
    `planned`: what the load alone needs, when the reserve or the race ask
    for more, and `rest_for` what those are for ("headroom", "racing the boot")."""
    if short:
        return (
            f"scaling up {size} → {desired} (the maximum): {poll.load} needs more "
            f"to meet the {role.deadline:g} s deadline"
        )
    needs = min(planned, desired)
    rest = f"; the rest for {rest_for}" if needs < desired and rest_for else ""
    return (
        f"scaling up {size} → {desired}: {poll.load} needs {dynos(needs)} "
        f"to finish by the deadline after {seconds(role.boot)} boot{rest}"
    )


def down_or_hold(
    size: int,
    desired: int,
    poll: Poll,
    sizing: Sizing,
    hi: int,
    alone: bool,
    *,
    deadline: float,
    outlive: float,
    redelivered: bool,
    learning: bool,
    killed: str = "",
) -> str:
    """`alone`: the `desired` dynos by themselves start every queued job in
    time; only then does a reason say the backlog finishes in time.
    `outlive`: the share of in-flight jobs a stop would kill; `redelivered`:
    jobs were lately killed at a stop and redone; `learning`: too few polls
    yet to tell a stream from a burst; `killed`: what becomes of the jobs in
    flight a stop kills, following "the N jobs in flight"."""
    later = (
        f"the next polls add what {poll.load} needs by the deadline"
        if poll.lasting > 0
        else f"more dynos would land too late for {poll.load}"
    )
    if desired < size:
        if size > hi and desired == hi:
            why = "above the maximum now in force"
        elif poll.ready + poll.unacked == 0:
            why = "queue empty"
        elif poll.ready == 0 and not stop_kills(outlive):
            why = f"the {poll.unacked:,} jobs in flight finish within the stop grace"
        elif poll.ready == 0:
            why = f"the {poll.unacked:,} jobs in flight{killed}"
        elif alone:
            why = f"{poll.load} still finishes in time with {dynos(desired)}"
        elif poll.lasting > 0:
            why = later
        else:
            serve = "serves" if desired == 1 else "serve"
            why = f"{dynos(desired)} {serve} {poll.load} as well as more could in time"
        return f"scaling down {size} → {desired}: {why}"
    if desired > size:
        return f"scaling up {size} → {desired}: the minimum now in force"
    if sizing.short:
        return (
            f"holding {size} (the maximum): {poll.load} needs more "
            f"to meet the {deadline:g} s deadline"
        )
    if sizing.busy > sizing.ample and redelivered:
        return (
            f"holding {size}: jobs were killed at a stop and redone, so dynos stay "
            f"for the {poll.unacked:,} jobs in flight"
        )
    if sizing.busy > sizing.ample:
        return (
            f"holding {size}: {poll.unacked:,} jobs in flight could outrun the "
            f"{STOP_GRACE:g} s stop grace and be redone"
        )
    if learning:
        return f"holding {size}: learning the publish rate"
    if sizing.ample > sizing.need and poll.ready + poll.unacked == 0:
        return f"holding {size}: queue empty, but reinforcements could come too late"
    if sizing.need < size:
        return f"holding {size}: fewer would do for now, but {poll.load} needs them soon"
    if poll.ready + poll.unacked == 0:
        return f"holding {size}: queue empty"
    if not alone:
        return f"holding {size}: {later}"
    return f"holding {size}: enough for {poll.load} within the deadline"
