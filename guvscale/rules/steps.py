"""dynomatic's ideas: a step table, and Eco/Basic process types scaled 0 or 1.

steps: [{at_least: 0, dynos: 1}, {at_least: 10, dynos: 5}]
workers: [worker1, worker2, worker3]
"""

from __future__ import annotations

import itertools

from guvscale.rules import fields
from guvscale.rules.fields import Invalid, Several
from guvscale.rules.source import Map, Scalar, Value
from guvscale.rules.types import Step

STEP_KEYS = ["at_least", "dynos"]
MAX_JOBS = 10**12  # a backlog no broker holds; keeps the numbers sane


def _step(node: Value, number: int) -> tuple[Step | None, list[Invalid]]:
    label = f"step {number}"
    if not isinstance(node, Map):
        msg = f"{label} must be like {{at_least: 10, dynos: 2}}, not {fields.shown(node)}"
        return None, [Invalid(msg, node.line)]
    problems: list[Invalid] = []
    got: dict[str, int] = {}
    present = {e.key for e in node.entries.values()}
    for entry in node.entries.values():
        if entry.key not in STEP_KEYS:
            hint = fields.closest(entry.key, STEP_KEYS)
            problems.append(Invalid(f"{label}: unknown key '{entry.key}'{hint}", entry.line))
            continue
        if isinstance(entry.value, Scalar) and entry.value.value is None:
            problems.append(Invalid(f"{label}: '{entry.key}' has no value", entry.line))
            continue
        try:
            if entry.key == "at_least":
                got["at_least"] = fields.count(entry.value, low=0, high=MAX_JOBS, what="jobs")
            else:
                got["dynos"] = fields.count(entry.value, low=0)
        except Invalid as exc:
            problems.append(Invalid(f"{label}: {entry.key} {exc.message}", entry.line))
    for key in STEP_KEYS:
        if key not in present:
            problems.append(
                Invalid(f"{label} needs '{key}' (like {{at_least: 10, dynos: 2}})", node.line)
            )
    if problems:
        return None, problems
    return Step(at_least=got["at_least"], dynos=got["dynos"]), []


def steps(node: Value) -> tuple[Step, ...]:
    items = fields.seq(node, "steps like {at_least: 10, dynos: 2}")
    problems: list[Invalid] = []
    found: list[tuple[Step, int]] = []
    for number, item in enumerate(items, 1):
        step, wrong = _step(item, number)
        problems += wrong
        if step is not None:
            found.append((step, number))
    for (before, _), (step, number) in itertools.pairwise(found):
        if step.at_least <= before.at_least:
            problems.append(
                Invalid(
                    f"step {number}: at_least {step.at_least} is not more than the step before "
                    f"({before.at_least}): list the steps from the smallest backlog up",
                    items[number - 1].line,
                )
            )
    if problems:
        raise Several(problems)
    return tuple(s for s, _ in found)


def workers(node: Value) -> tuple[str, ...]:
    items = fields.seq(node, "process type names like [worker1, worker2]")
    if not items:
        raise Invalid("lists no process types: give at least one, like [worker1, worker2]")
    names: list[str] = []
    problems: list[Invalid] = []
    for item in items:
        try:
            name = fields.process_type(item)
        except Invalid as exc:
            problems.append(Invalid(exc.message, item.line))
            continue
        if name in names:
            problems.append(Invalid(f"'{name}' is listed twice", item.line))
        names.append(name)
    if problems:
        raise Several(problems)
    return tuple(names)
