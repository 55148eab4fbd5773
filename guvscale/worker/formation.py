"""From quantities to changes, and back: pure functions over formation values.

A role scales one process type, or (Eco/Basic, which run at most one dyno
per type) a `workers:` list whose types are each set to 0 or 1, filled in
order. Heroku's limits, once learnt from a 422, clamp what we ask for.
"""

from __future__ import annotations

from collections.abc import Mapping

from guvscale.rules.types import Role


def types_of(role: Role) -> tuple[str, ...]:
    return role.workers or (role.worker,)


def current_of(role: Role, quantities: Mapping[str, int]) -> int | None:
    """The role's dynos now; None when a type it scales is not in the formation."""
    if any(t not in quantities for t in types_of(role)):
        return None
    if role.workers:
        return sum(min(1, quantities[t]) for t in role.workers)
    return quantities[role.worker]


def missing_types(role: Role, quantities: Mapping[str, int]) -> list[str]:
    return [t for t in types_of(role) if t not in quantities]


def ceiling(role: Role, limits: Mapping[str, int]) -> int | None:
    """The most dynos Heroku lets this role run, when a 422 taught us."""
    if role.workers:
        return len(role.workers)
    return limits.get(role.worker)


def wanted(role: Role, desired: int) -> dict[str, int]:
    """Quantity per process type for `desired` dynos of the role."""
    if role.workers:
        return {t: 1 if i < desired else 0 for i, t in enumerate(role.workers)}
    return {role.worker: desired}


def changes(role: Role, desired: int, quantities: Mapping[str, int]) -> dict[str, int]:
    """Only the types whose quantity differs: what the batch PATCH carries."""
    return {t: q for t, q in wanted(role, desired).items() if quantities.get(t) != q}
