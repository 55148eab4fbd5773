"""One line per role, for `guvscale validate` and the dashboard."""

from __future__ import annotations

from guvscale.rules.fields import num
from guvscale.rules.types import Role


def describe(role: Role) -> str:
    """'emailsender: queue send-email, 0–5 dynos, target 179.7 s'."""  # noqa: RUF002
    what = [f"queue {role.queue}"]
    if role.workers:
        what.append(f"{role.dynosize} process types {', '.join(role.workers)}")
    elif role.worker != role.name:
        what.append(f"process type {role.worker}")
    if role.app:
        what.append(f"app {role.app}")
    what.append(f"{role.minimum}–{role.maximum} dynos")  # noqa: RUF001
    if role.target > role.processing:
        what.append(f"target {role.target:.1f} s")
    else:  # guv's stand-in, as the warning says
        what.append(f"target {role.processing + 0.01:.2f} s (cannot be met)")
    if role.model == "guv":
        what.append("guv's model")
    if role.steps:
        what.append(f"{len(role.steps)} steps")
    if role.schedule:
        entries = "entry" if len(role.schedule) == 1 else "entries"
        what.append(f"{len(role.schedule)} schedule {entries} ({role.timezone})")
    if role.concurrency != 1:
        what.append(f"{role.concurrency} jobs per dyno")
    what.append(f"jobs {num(role.processing)} s, deadline {num(role.deadline)} s")
    return f"{role.name}: {', '.join(what)}"
