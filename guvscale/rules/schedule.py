"""`schedule:` entries: minimum/maximum by weekday and time of day.

    schedule:
      - days: weekdays          # or [mon, tue], mon-fri, weekends, daily
        from: "08:00"           # quoted: unquoted 8:00 is the number 480 in YAML
        to: "18:00"             # "24:00" is midnight; from after to runs overnight
        minimum: 2

Times are local to the role's `timezone`. The first matching entry wins.
"""

from __future__ import annotations

import datetime as dt
import re

from guvscale.rules import fields
from guvscale.rules.fields import Invalid, Several
from guvscale.rules.source import Map, Scalar, Value
from guvscale.rules.types import ScheduleWindow

DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_FULL = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DAY = {**{d: i + 1 for i, d in enumerate(DAY_NAMES)}, **{d: i + 1 for i, d in enumerate(_FULL)}}
_GROUPS = {
    "daily": frozenset(range(1, 8)),
    "everyday": frozenset(range(1, 8)),
    "weekdays": frozenset(range(1, 6)),
    "weekends": frozenset({6, 7}),
}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_SEXAGESIMAL = re.compile(r"^[0-9][0-9_]*(:[0-5]?[0-9])+$")

WINDOW_KEYS = ["days", "from", "to", "minimum", "maximum"]
WINDOW_ALIASES = {"min": "minimum", "max": "maximum"}


def _one_day(word: str) -> int:
    day = _DAY.get(word.strip().lower())
    if day is None:
        known = "mon, tue, wed, thu, fri, sat, sun, weekdays, weekends, daily"
        hint = fields.closest(word.strip(), [*DAY_NAMES, *_GROUPS])
        raise Invalid(f"'{word.strip()[:20]}' is not a day{hint}; use {known} or a range mon-fri")
    return day


def parse_days(phrase: str) -> frozenset[int]:
    """'weekdays', 'mon', 'mon-fri', 'fri-mon' (wraps), 'mon,wed,fri'."""
    days: set[int] = set()
    for part in phrase.split(","):
        word = part.strip().lower().replace(" ", "")
        if word in _GROUPS:
            days |= _GROUPS[word]
        elif "-" in word:
            first, _, last = word.partition("-")
            a, b = _one_day(first), _one_day(last)
            days |= {(a - 1 + i) % 7 + 1 for i in range((b - a) % 7 + 1)}
        else:
            days.add(_one_day(word))
    return frozenset(days)


def days(node: Value) -> frozenset[int]:
    if isinstance(node, Scalar) and isinstance(node.value, str):
        return parse_days(node.value)
    try:
        words = fields.seq(node, "days like [mon, tue] or a word like weekdays")
    except Invalid as exc:
        raise Invalid(f"days {exc.message}") from None
    out: set[int] = set()
    for item in words:
        if not (isinstance(item, Scalar) and isinstance(item.value, str)):
            raise Invalid(f"a day must be a name like mon, not {fields.shown(item)}")
        out |= parse_days(item.value)
    if not out:
        raise Invalid("days lists no days: give at least one, like [mon] or weekdays")
    return frozenset(out)


def clock(node: Value, key: str) -> dt.time:
    """'08:00' -> 08:00; '24:00' (as `to`) -> midnight."""
    example = f'{key}: "08:00"'
    if isinstance(node, Scalar) and not node.quoted and _SEXAGESIMAL.match(node.text):
        raise Invalid(
            f"write times in quotes, like {example}: without quotes YAML reads "
            f"{node.text} as the number {node.value}"
        )
    if not (isinstance(node, Scalar) and isinstance(node.value, str)):
        raise Invalid(f"'{key}' must be a time in quotes like {example}, not {fields.shown(node)}")
    m = _TIME.match(node.value.strip())
    if m is None:
        raise Invalid(f"'{node.value[:20]}' is not a time like \"08:00\" (hours:minutes, 24-hour)")
    hour, minute = int(m.group(1)), int(m.group(2))
    if (hour, minute) == (24, 0) and key == "to":
        return dt.time(0, 0)
    if hour > 23 or minute > 59:
        raise Invalid(f"'{node.value}' is not a time of day (00:00 to 23:59)")
    return dt.time(hour, minute)


def window(node: Value, number: int) -> tuple[ScheduleWindow | None, list[Invalid]]:
    """One entry, or the problems with it; `number` (1-based) names it in messages."""
    label = f"schedule entry {number}"
    if not isinstance(node, Map):
        return None, [
            Invalid(
                f'{label} must be keys like days: weekdays, from: "08:00", to: "18:00", '
                f"minimum: 2, not {fields.shown(node)}",
                node.line,
            )
        ]
    problems: list[Invalid] = []
    seen: dict[str, Value] = {}
    for entry in node.entries.values():
        name = WINDOW_ALIASES.get(entry.key, entry.key)
        if name not in WINDOW_KEYS:
            hint = fields.closest(entry.key, [*WINDOW_KEYS, *WINDOW_ALIASES])
            problems.append(Invalid(f"{label}: unknown key '{entry.key}'{hint}", entry.line))
        elif name in seen:
            problems.append(Invalid(f"{label}: '{name}' is given twice", entry.line))
        elif isinstance(entry.value, Scalar) and entry.value.value is None:
            problems.append(Invalid(f"{label}: '{entry.key}' has no value", entry.line))
        else:
            seen[name] = entry.value

    def at(name: str) -> int:
        return seen[name].line if name in seen else node.line

    times: dict[str, dt.time] = {}
    for name in ("from", "to"):
        if name not in seen:
            problems.append(Invalid(f"{label} needs '{name}' (like {name}: \"08:00\")", node.line))
            continue
        try:
            times[name] = clock(seen[name], name)
        except Invalid as exc:
            problems.append(Invalid(f"{label}: {exc.message}", at(name)))
    bounds: dict[str, int | None] = {"minimum": None, "maximum": None}
    for name, low in (("minimum", 0), ("maximum", 1)):
        if name in seen:
            try:
                bounds[name] = fields.count(seen[name], low=low)
            except Invalid as exc:
                problems.append(Invalid(f"{label}: {name} {exc.message}", at(name)))
    day_set = _GROUPS["daily"]
    if "days" in seen:
        try:
            day_set = days(seen["days"])
        except Invalid as exc:
            problems.append(Invalid(f"{label}: {exc.message}", at("days")))
    lo, hi = bounds["minimum"], bounds["maximum"]
    if not any(n in seen for n in bounds):
        problems.append(
            Invalid(f"{label} sets neither minimum nor maximum, so it changes nothing", node.line)
        )
    if lo is not None and hi is not None and lo > hi:
        problems.append(Invalid(f"{label}: minimum {lo} is more than maximum {hi}", at("minimum")))
    if problems:
        return None, problems
    return ScheduleWindow(
        days=day_set, start=times["from"], end=times["to"], minimum=lo, maximum=hi
    ), []


def windows(node: Value) -> tuple[ScheduleWindow, ...]:
    items = fields.seq(node, 'entries like - {days: weekdays, from: "08:00", to: "18:00", min: 2}')
    out: list[ScheduleWindow] = []
    problems: list[Invalid] = []
    for number, item in enumerate(items, 1):
        found, wrong = window(item, number)
        problems += wrong
        if found is not None:
            out.append(found)
    if problems:
        raise Several(problems)
    return tuple(out)
