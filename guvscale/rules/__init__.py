"""The rules users write (guv's YAML plus steps, workers and schedules).

from guvscale.rules import load, RulesError
roles = load(text)          # dict[str, Role], in the order written
# or: except RulesError as e: e.errors -> [RuleIssue(role, key, line, message)]
"""

from guvscale.rules.errors import RuleIssue, RulesError
from guvscale.rules.parser import (
    DYNOSIZES,
    KEYS,
    SHORT,
    check,
    derive_target,
    load,
    load_with_warnings,
)
from guvscale.rules.source import MAX_BYTES
from guvscale.rules.summary import describe
from guvscale.rules.types import ModelName, Role, ScheduleWindow, Step

__all__ = [
    "DYNOSIZES",
    "KEYS",
    "MAX_BYTES",
    "SHORT",
    "ModelName",
    "Role",
    "RuleIssue",
    "RulesError",
    "ScheduleWindow",
    "Step",
    "check",
    "derive_target",
    "describe",
    "load",
    "load_with_warnings",
]
