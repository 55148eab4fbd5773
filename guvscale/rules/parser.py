"""`load(yaml_text)`: the rules users write -> resolved `Role`s, or every problem.

Three passes: read the YAML (source.py), read each role's own keys alone,
then merge the '*' defaults in and check what only the whole role can tell
(minimum vs maximum, a deadline that cannot be met, Eco/Basic limits).
A key that was wrong in the first pass is left out of the checks of the
second, so one mistake is reported once, not again as a consequence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import TypeVar

from guvscale.rules import fields, schedule, steps
from guvscale.rules.errors import RuleIssue, RulesError
from guvscale.rules.fields import Invalid, Several, num
from guvscale.rules.source import Entry, Map, Scalar, Value, glued_key, read, readable
from guvscale.rules.types import ModelName, Role, ScheduleWindow, Step

DEFAULTS_ROLE = "*"

SHORT = {
    "p": "processing",
    "d": "deadline",
    "min": "minimum",
    "max": "maximum",
    "w": "worker",
    "q": "queue",
}

DYNOSIZES = [
    "eco",
    "basic",
    "standard-1x",
    "standard-2x",
    "performance-m",
    "performance-l",
    "performance-l-ram",
    "performance-xl",
    "performance-2xl",
    "private-s",
    "private-m",
    "private-l",
    "shield-s",
    "shield-m",
    "shield-l",
]
# Heroku runs at most one dyno per process type of these sizes.
SINGLE_DYNO_SIZES = frozenset({"eco", "basic"})
MODELS = ["guvscale", "guv"]

# guv keys that are settings of the add-on here, not of the rules.
NOT_RULES = {
    "broker": "the RabbitMQ URL is a setting of the add-on, not of the rules",
    "apikey": "the Heroku access is a setting of the add-on, not of the rules",
    "statuspage": "status pages are not supported",
    "metric": "metrics are not supported",
}


# guv's stand-in target when the derived one is not above processing.
GUV_NUDGE = 0.01
# The plans' fastest and slowest polls, s (`guvscale.plans`, which imports the
# rules' types, so not imported here; a test holds the two together).
FASTEST_POLL, SLOWEST_POLL = 10.0, 60.0


def too_slow_to_react(role: Role) -> str | None:
    """A warning when a dyno asked for at a burst's first sight lands too late.

    Imported here, not at the top: the scaling model depends on the rules'
    types, and the rules package must load without the model.
    """
    from guvscale.scaling.common import reaction_warning

    return reaction_warning(role)


def derive_target(deadline: float, percentile: float, stddev: float) -> float:
    """guv's target: the time by which a job must start so that `percentile` %
    of jobs finish by `deadline`, for normally distributed job times."""
    return deadline - NormalDist().inv_cdf(percentile / 100) * stddev


Reader = Callable[[Value], object]
T = TypeVar("T")

READERS: dict[str, Reader] = {
    "processing": fields.time,
    "stddev": lambda n: fields.time(n, zero_ok=True),
    "deadline": fields.time,
    "percentile": fields.percent,
    "target": fields.time,
    "concurrency": lambda n: fields.count(n, low=1, high=fields.MAX_PREFETCH, what="jobs"),
    "minimum": lambda n: fields.count(n, low=0),
    "maximum": lambda n: fields.count(n, low=1),
    "boot": fields.time,
    "dynosize": lambda n: fields.choice(n, DYNOSIZES, "a Heroku dyno size"),
    "worker": fields.process_type,
    "queue": fields.queue,
    "app": fields.app,
    "pollinterval": fields.time,
    "history": fields.time,
    "model": lambda n: fields.choice(n, MODELS, "a scaling model"),
    "steps": steps.steps,
    "workers": steps.workers,
    "timezone": fields.timezone,
    "schedule": schedule.windows,
}
KEYS = list(READERS)


@dataclass(frozen=True)
class _Setting:
    value: object
    line: int
    inherited: bool  # from the '*' role


@dataclass
class _Block:
    """One role's own keys, read; `bad` holds keys that were given but wrong."""

    name: str
    line: int
    settings: dict[str, _Setting] = field(default_factory=dict)
    bad: set[str] = field(default_factory=set)


class _Issues(list[RuleIssue]):
    def add(self, role: str | None, key: str | None, line: int | None, message: str) -> None:
        self.append(RuleIssue(role, key, line, message))


def _read_entry(block: _Block, entry: Entry, inherited: bool, issues: _Issues) -> None:
    role, key, line = block.name, entry.key, entry.line
    if not readable(entry.value):
        block.bad.add(SHORT.get(key, key))
        return
    null = isinstance(entry.value, Scalar) and entry.value.value is None
    glued = glued_key(key)
    if glued and null:
        k, v = glued
        message = f"write '{k}: {v}' with a space after the colon"
        if SHORT.get(k, k) not in READERS:
            hint = fields.closest(k, [*KEYS, *SHORT], SHORT)
            message += f"; '{k}' is not a known key either{hint}"
        issues.add(role, SHORT.get(k, k), line, message)
        block.bad.add(SHORT.get(k, k))
        return
    name = SHORT.get(key, key)
    if name not in READERS:
        if key.lower() in NOT_RULES:
            issues.add(role, key, line, f"'{key}' is not used: {NOT_RULES[key.lower()]}")
        else:
            hint = fields.closest(key, [*KEYS, *SHORT], SHORT)
            issues.add(role, key, line, f"unknown key '{key}'{hint}")
        return
    if name in block.settings or name in block.bad:
        issues.add(role, name, line, f"'{key}' sets {name}, which this role already sets: keep one")
        return
    if null:
        issues.add(role, name, line, f"'{key}' has no value: give one, or remove the line")
        block.bad.add(name)
        return
    try:
        value = READERS[name](entry.value)
    except Invalid as exc:
        issues.add(role, name, exc.line or line, exc.message)
        block.bad.add(name)
    except Several as exc:
        for p in exc.problems:
            issues.add(role, name, p.line or line, p.message)
        block.bad.add(name)
    else:
        block.settings[name] = _Setting(value, line, inherited)


def _read_block(entry: Entry, issues: _Issues) -> _Block | None:
    name, line, node = entry.key, entry.line, entry.value
    block = _Block(name, line)
    if not readable(node) and not isinstance(node, Map):
        return None
    if not name.strip():
        issues.add(None, None, line, "a role needs a name before the colon")
        return None
    if len(name) > fields.MAX_ROLE_NAME:
        issues.add(
            None,
            None,
            line,
            f"the role name '{name[:40]}…' is {len(name)} characters long: "
            f"at most {fields.MAX_ROLE_NAME}",
        )
        return None
    if (bad := fields.control_character(name)) is not None:
        issues.add(None, None, line, f"a role name cannot hold a control character ({bad})")
        return None
    if isinstance(node, Map):
        for e in node.entries.values():
            _read_entry(block, e, name == DEFAULTS_ROLE, issues)
        return block
    if isinstance(node, Scalar) and node.value is None:
        msg = (
            f"role '{name}' has no settings: indent them under it, "
            f"or write '{name}: {{}}' to use every default"
        )
    elif isinstance(node, Scalar) and isinstance(node.value, str) and glued_key(node.text):
        k, v = glued_key(node.text) or ("", "")
        msg = f"write '{k}: {v}' with a space after the colon"
    else:
        msg = (
            f"the settings of '{name}' must be keys like 'deadline: 60' on indented lines, "
            f"not {fields.shown(node)}"
        )
    issues.add(name, None, line, msg)
    return None


class _Merged:
    """A role's settings with the '*' defaults under them, read back typed."""

    def __init__(self, block: _Block, defaults: _Block | None) -> None:
        self.block = block
        self.settings = dict(defaults.settings) if defaults else {}
        self.settings.update(block.settings)
        # A wrong '*' value the role overrides does not touch this role.
        self.bad = block.bad | ((defaults.bad if defaults else set()) - set(block.settings))

    def given(self, key: str) -> bool:
        return key in self.settings

    def own(self, key: str) -> bool:
        return key in self.settings and not self.settings[key].inherited

    def number(self, key: str, default: float) -> float:
        v = self.settings[key].value if key in self.settings else default
        assert isinstance(v, int | float)
        return float(v)

    def whole(self, key: str, default: int) -> int:
        v = self.settings[key].value if key in self.settings else default
        assert isinstance(v, int)
        return v

    def text(self, key: str, default: str) -> str:
        v = self.settings[key].value if key in self.settings else default
        assert isinstance(v, str)
        return v

    def items(self, key: str, kind: type[T]) -> tuple[T, ...]:
        v = self.settings[key].value if key in self.settings else ()
        assert isinstance(v, tuple) and all(isinstance(x, kind) for x in v)
        return v

    def blame(self, keys: tuple[str, ...]) -> tuple[str, int]:
        """The key and line to point at: the first of `keys` the role sets itself,
        else the first set under '*', else the first key at the role's line."""
        for pick in (self.own, self.given):
            for key in keys:
                if pick(key):
                    return key, self.settings[key].line
        return keys[0], self.block.line


def _resolve(
    block: _Block, defaults: _Block | None, issues: _Issues, warnings: _Issues
) -> Role | None:
    m = _Merged(block, defaults)
    name = block.name
    before = len(issues)

    def problem(keys: tuple[str, ...], message: str) -> None:
        key, line = m.blame(keys)
        issues.add(name, key, line, message)

    def warn(keys: tuple[str, ...], message: str) -> None:
        key, line = m.blame(keys)
        warnings.add(name, key, line, message)

    processing = m.number("processing", 10.0)
    stddev = m.number("stddev", 0.5 * processing)
    deadline = m.number("deadline", 60.0)
    percentile = m.number("percentile", 99.0)
    timing_ok = not {"processing", "stddev", "deadline", "percentile", "target"} & m.bad
    if m.given("target"):
        target = m.number("target", 0.0)
        if timing_ok and target <= processing:
            warn(
                ("target", "processing"),
                f"target {num(target)} s is not more than processing {num(processing)} s, "
                f"so jobs cannot finish in time; scaling as guv does, with target "
                f"{num(processing + GUV_NUDGE)} s: raise the target or lower processing",
            )
    else:
        target = derive_target(deadline, percentile, stddev)
        if timing_ok and target <= processing:
            z = NormalDist().inv_cdf(percentile / 100)
            warn(
                ("deadline", "processing", "stddev", "percentile"),
                f"target {target:.1f} s (deadline {num(deadline)} − {z:.2f} × stddev "  # noqa: RUF001
                f"{num(stddev)}) is not more than processing {num(processing)} s, so jobs "
                f"cannot finish in time; scaling as guv does, with target "
                f"{num(processing + GUV_NUDGE)} s: raise the deadline or lower processing",
            )

    workers = m.items("workers", str)
    windows = m.items("schedule", ScheduleWindow)
    dynosize = m.text("dynosize", "standard-1x")
    minimum = m.whole("minimum", 1)
    maximum = m.whole("maximum", 5)
    bounds_ok = not {"minimum", "maximum"} & m.bad
    if workers:
        cap = len(workers)
        if m.given("worker"):
            problem(
                ("workers", "worker"),
                "give either worker (one process type) or workers (a list of Eco/Basic "
                "process types scaled 0 or 1 each), not both",
            )
        if not m.given("maximum"):
            maximum = cap
        elif not m.own("maximum"):
            maximum = min(maximum, cap)  # '*' speaks for roles with any number of workers
        elif maximum > cap and bounds_ok:
            problem(
                ("maximum",),
                f"maximum {maximum} is more than the {cap} process types under workers, "
                "each of which runs at most one dyno: list more workers or lower maximum",
            )
        for number, w in enumerate(windows, 1):
            if max(w.minimum or 0, w.maximum or 0) > cap:
                problem(
                    ("schedule",),
                    f"schedule entry {number} asks for more dynos than the {cap} process "
                    "types under workers, each of which runs at most one dyno",
                )
    elif dynosize in SINGLE_DYNO_SIZES and bounds_ok:
        fix = "set maximum: 1, or list several process types under workers: [worker1, worker2]"
        single = f"{dynosize} dynos cannot run more than one dyno per process type"
        if maximum > 1:
            given = "" if m.given("maximum") else " (the default)"
            problem(
                ("maximum", "dynosize"),
                f"{single}, so maximum {maximum}{given} cannot be reached: {fix}",
            )
        elif any(max(w.minimum or 0, w.maximum or 0) > 1 for w in windows):
            problem(("schedule",), f"{single}, so a schedule entry above 1 dyno cannot apply")

    if bounds_ok:
        for number, w in enumerate(windows, 1):
            if w.maximum is None and w.minimum is not None and w.minimum > maximum:
                # bounds_at lets the window's minimum win, which may be meant
                # (more dynos in office hours) or a slip that lifts the cap.
                warn(
                    ("schedule",),
                    f"schedule entry {number} keeps at least {w.minimum} dynos, more than "
                    f"maximum {maximum}: in that window it runs {w.minimum}; give the entry "
                    f"'maximum: {w.minimum}' to say so, or lower its minimum",
                )
    if bounds_ok and minimum > maximum:
        default = "" if m.given("maximum") or workers else " (the default)"
        problem(
            ("minimum", "maximum"),
            f"minimum {minimum} is more than maximum {maximum}{default}: "
            "lower minimum or raise maximum",
        )

    step_table = m.items("steps", Step)
    ceiling = max([maximum, *(w.maximum or 0 for w in windows)])
    too_many = next((n for n, s in enumerate(step_table, 1) if s.dynos > ceiling), None)
    if too_many is not None and bounds_ok:
        problem(
            ("steps",),
            f"step {too_many} asks for {step_table[too_many - 1].dynos} dynos but maximum is "
            f"{ceiling}, so it could never apply: raise maximum or lower the step",
        )

    worker = m.text("worker", workers[0] if workers else name)
    if not m.given("worker") and not workers:
        try:
            fields.check_process_type(worker)
        except Invalid as exc:
            issues.add(
                name,
                "worker",
                block.line,
                f"the role's name is used as its process type, but {exc.message}: "
                "set worker: to the process type",
            )
    if len(issues) > before or m.bad:
        return None
    model: ModelName = "guv" if m.text("model", "guvscale") == "guv" else "guvscale"
    role = Role(
        name=name,
        worker=worker,
        queue=m.text("queue", name),
        app=m.text("app", "") or None,
        processing=processing,
        stddev=stddev,
        deadline=deadline,
        percentile=percentile,
        target=target,
        concurrency=m.whole("concurrency", 1),
        minimum=minimum,
        maximum=maximum,
        boot=m.number("boot", 30.0),
        dynosize=dynosize,
        pollinterval=m.number("pollinterval", 30.0),
        history=m.number("history", 120.0),
        model=model,
        steps=step_table,
        workers=workers,
        schedule=windows,
        timezone=m.text("timezone", "UTC"),
        line=block.line,
    )
    if m.own("pollinterval"):
        warn(
            ("pollinterval",),
            f"pollinterval is the add-on plan's when scaling (every {FASTEST_POLL:g} to "
            f"{SLOWEST_POLL:g} s); {num(role.pollinterval)} s applies to `guvscale simulate` only",
        )
    # Judged at no faster a poll than any plan's: `pollinterval: 1` hid the
    # warning from roles the worker polls every 30 s.
    judged = dataclasses.replace(role, pollinterval=max(role.pollinterval, FASTEST_POLL))
    slow = too_slow_to_react(judged) if target > processing else None
    if slow is not None and timing_ok:
        warn(("boot", "deadline", "pollinterval"), slow)
    return role


def check(yaml_text: str) -> list[RuleIssue]:
    """Every problem of the rules, in line order; [] when they load (warnings aside)."""
    try:
        load(yaml_text)
    except RulesError as exc:
        return exc.errors
    return []


def load(yaml_text: str) -> dict[str, Role]:
    """The roles of `yaml_text` in the order written, fully resolved.

    Raises RulesError listing every problem found; warnings are left out
    (`load_with_warnings` gives them).
    """
    return load_with_warnings(yaml_text)[0]


def _one_role_per_process_type(roles: Iterable[Role], issues: _Issues) -> None:
    """Two roles scaling one process type would each set its dynos every
    poll, the last one written winning: an idle queue's role shedding the
    dynos a busy one's queue needs, and back."""
    first: dict[tuple[str | None, str], Role] = {}
    for role in roles:
        for process_type in role.workers or (role.worker,):
            other = first.setdefault((role.app, process_type), role)
            if other is not role:
                of_app = f" of app {role.app}" if role.app else ""
                issues.add(
                    role.name,
                    "workers" if role.workers else "worker",
                    role.line,
                    f"process type '{process_type}'{of_app} is scaled by role '{other.name}' "
                    f"(line {other.line}) too: give each process type one role, as each "
                    "would set its dynos",
                )


def load_with_warnings(yaml_text: str) -> tuple[dict[str, Role], list[RuleIssue]]:
    """`load`, plus what does not block saving but a user should hear about.

    A warning is a RuleIssue like an error (role, key, line, message), in line
    order; the rules still load and scale. Raises RulesError on errors.
    """
    tree, found = read(yaml_text)
    issues = _Issues(
        RuleIssue(i.role, SHORT.get(i.key, i.key) if i.key else None, i.line, i.message)
        for i in found
    )
    if tree is None:
        if not issues:
            issues.add(
                None,
                None,
                None,
                "the rules are empty: add a role, like 'emailsender:' with its settings "
                "indented under it",
            )
        raise RulesError(issues)
    if not isinstance(tree, Map):
        issues.add(
            None,
            None,
            tree.line,
            "the rules must be role names, each followed by its settings "
            f"(like 'emailsender:' then 'deadline: 180' indented), not {fields.shown(tree)}",
        )
        raise RulesError(issues)
    entries = tree.entries
    defaults = _read_block(entries[DEFAULTS_ROLE], issues) if DEFAULTS_ROLE in entries else None
    blocks = [
        b
        for e in entries.values()
        if e.key != DEFAULTS_ROLE and (b := _read_block(e, issues)) is not None
    ]
    if not any(e.key != DEFAULTS_ROLE for e in entries.values()):
        line = entries[DEFAULTS_ROLE].line if DEFAULTS_ROLE in entries else tree.line
        issues.add(
            None,
            None,
            line,
            "there is only the '*' defaults role: add a role to scale, like 'emailsender:'",
        )
    warnings = _Issues()
    roles = {
        b.name: r for b in blocks if (r := _resolve(b, defaults, issues, warnings)) is not None
    }
    _one_role_per_process_type(roles.values(), issues)
    if issues:
        raise RulesError(issues)
    return roles, sorted(warnings, key=lambda w: (w.line is None, w.line or 0))
