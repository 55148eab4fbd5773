"""Reading one value of the right kind, with a message a user can act on.

Each reader takes a node of the source tree and returns a clean Python value
or raises `Invalid` with the sentence to show. The caller adds role, key, line.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
import zoneinfo
from functools import cache

from guvscale.rules.source import Map, Scalar, Seq, Value

# AMQP's prefetch count is a 16-bit number; dynos per process type are far
# below this cap on Heroku, which only guards against nonsense like 10**20.
MAX_DYNOS = 10_000
MAX_PREFETCH = 65_535
# No job, deadline or poll is anywhere near a month; the cap keeps every
# derived figure (the target, history / pollinterval) finite and small.
MAX_SECONDS = 30 * 24 * 3600
# The worker's tables keep role names of up to this many characters.
MAX_ROLE_NAME = 100

PROCESS_TYPE = re.compile(r"^[-\w]{1,128}$", re.ASCII)  # Heroku's formation type pattern
APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
APP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Invalid(Exception):
    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line  # when the problem sits deeper than the key's own line


class Several(Exception):
    """More than one problem inside one value (a list of steps, say)."""

    def __init__(self, problems: list[Invalid]) -> None:
        super().__init__(problems[0].message if problems else "")
        self.problems = problems


def closest(word: str, choices: list[str], rename: dict[str, str] | None = None) -> str:
    """A hint like " (did you mean 'deadline'?)", or "" when nothing is close.

    `rename` turns a matched short name into the long one it stands for.
    """
    lower = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
    if not match:
        return ""
    found = lower[match[0]]
    return f" (did you mean '{(rename or {}).get(found, found)}'?)"


def shown(node: Value) -> str:
    """How a wrong value is named back to the user."""
    if isinstance(node, Seq):
        return "a list"
    if isinstance(node, Map):
        return "a set of keys"
    if node.value is None:
        return "empty"
    if isinstance(node.value, bool):
        return f"yes/no ({node.text})"
    return f"'{node.text[:40]}'"


def num(x: float) -> str:
    """60 -> '60', 0.3 -> '0.3', 48.368 -> '48.37'."""
    return f"{x:.4g}" if abs(x) < 1e6 else f"{x:,.0f}" if abs(x) < 1e15 else f"{x:.3g}"


def _yaml_number(x: float) -> str:
    """How to write `x` so YAML 1.1 reads a number: 1000, or 1.5e+20 (dot and sign needed)."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa)}e{exponent}"


def _number(node: Value, what: str, example: str) -> float:
    if isinstance(node, Scalar) and not isinstance(node.value, bool):
        v = node.value
        if isinstance(v, int | float):
            if not math.isfinite(v):
                raise Invalid(f"must be a finite number, not {node.text}")
            return v
        if isinstance(v, str):
            try:
                parsed = float(v.replace("_", ""))
            except ValueError:
                parsed = None
            if parsed is not None and math.isfinite(parsed):
                if node.quoted:
                    raise Invalid(f"must be {what}: write {node.text} without quotes")
                raise Invalid(
                    f"must be {what}: YAML reads {node.text} as text here, "
                    f"write {_yaml_number(parsed)}"
                )
    raise Invalid(f"must be {what} (like {example}), not {shown(node)}")


def time(node: Value, *, zero_ok: bool = False) -> float:
    """Seconds: > 0, or >= 0 when `zero_ok`."""
    v = _number(node, "a number of seconds", "60 or 0.5")
    if v < 0 or (v == 0 and not zero_ok):
        bound = "0 or more" if zero_ok else "more than 0"
        raise Invalid(f"must be {bound} seconds, not {num(v)}")
    if v > MAX_SECONDS:
        raise Invalid(f"must be at most {MAX_SECONDS:,} seconds (30 days), not {num(v)}")
    return float(v)


def percent(node: Value) -> float:
    v = _number(node, "a percentage", "99 or 99.9")
    if not 0 < v < 100:
        raise Invalid(f"must be between 0 and 100 (not including either), not {num(v)}")
    return float(v)


def count(node: Value, *, low: int, high: int = MAX_DYNOS, what: str = "dynos") -> int:
    """A whole number in [low, high]. 3.0 is accepted as 3: it is whole, and
    users converting from JSON tools get floats for every number."""
    v = _number(node, f"a whole number of {what}", "3")
    if v != int(v):
        raise Invalid(f"must be a whole number of {what}, not {num(v)}")
    n = int(v)
    if n < low:
        raise Invalid(f"must be {low} or more, not {n}")
    if n > high:
        raise Invalid(f"must be at most {high:,}, not {n:,}")
    return n


def text(node: Value, what: str = "a name") -> str:
    """A name as written; numbers are fine (a queue may be called 2024)."""
    if not isinstance(node, Scalar) or node.value is None:
        raise Invalid(f"must be {what}, not {shown(node)}")
    if not node.text.strip():
        raise Invalid(f"must be {what}, not empty text")
    if node.text != node.text.strip():
        raise Invalid(f"'{node.text}' has spaces at its start or end: remove them")
    if (bad := control_character(node.text)) is not None:
        raise Invalid(f"must be {what}, not text holding a control character ({bad})")
    return node.text


def control_character(name: str) -> str | None:
    """The first control character in `name` (as U+XXXX), if any: a \\0
    escape wrote a NUL, which PostgreSQL refuses in text and JSON, so the
    worker could not save that tenant."""
    bad = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    return None if bad is None else f"U+{ord(bad):04X}"


def process_type(node: Value) -> str:
    name = text(node, "a Heroku process type name (as in your Procfile)")
    check_process_type(name)
    return name


def check_process_type(name: str) -> None:
    if not PROCESS_TYPE.match(name):
        raise Invalid(
            f"'{name[:40]}' is not a Heroku process type name: those have at most 128 "
            "letters, digits, '-' and '_'"
        )


def queue(node: Value) -> str:
    name = text(node, "a RabbitMQ queue name")
    if len(name.encode()) > 255:
        raise Invalid("a RabbitMQ queue name has at most 255 bytes")
    return name


def app(node: Value) -> str:
    name = text(node, "a Heroku app name")
    if not (APP_NAME.match(name) or APP_ID.match(name)):
        raise Invalid(
            f"'{name[:40]}' is not a Heroku app name: those are 3 to 30 lowercase letters, "
            "digits and '-', starting with a letter"
        )
    return name


def choice(node: Value, choices: list[str], what: str) -> str:
    """One of `choices`, case-insensitive; returned in the listed spelling."""
    word = text(node, what)
    if word.lower() in choices:
        return word.lower()
    listed = ", ".join(choices)
    raise Invalid(f"'{word[:40]}' is not {what}{closest(word, choices)}; known: {listed}")


@cache
def _zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def timezone(node: Value) -> str:
    name = text(node, "a time zone name like Europe/Paris")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ZoneInfo also opens odd keys (e.g. 'posixrules'); those are caught
        # below by requiring a listed name.
        pass
    else:
        if name in _zones() or name == "UTC":
            return name
    exact = {z.lower(): z for z in _zones()}.get(name.lower())
    hint = f" (did you mean '{exact}'?)" if exact else closest(name, _zones())
    raise Invalid(f"'{name[:40]}' is not a time zone name like Europe/Paris or UTC{hint}")


def seq(node: Value, what: str) -> tuple[Value, ...]:
    if not isinstance(node, Seq):
        raise Invalid(f"must be a list of {what}, not {shown(node)}")
    return node.items
