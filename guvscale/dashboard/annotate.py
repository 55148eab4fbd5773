"""Rules text with its problems at their lines, and a diff against the saved rules. Pure."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from guvscale.rules.errors import RuleIssue


@dataclass(frozen=True)
class Note:
    level: str  # "error" or "warning"
    where: str  # "role.key", "role" or ""
    message: str


@dataclass
class AnnotatedLine:
    number: int
    text: str
    notes: list[Note] = field(default_factory=list)

    @property
    def level(self) -> str:
        levels = {n.level for n in self.notes}
        return "error" if "error" in levels else "warning" if levels else ""


@dataclass
class Annotated:
    lines: list[AnnotatedLine]
    general: list[Note]  # problems with no line (or past the end)

    @property
    def errors(self) -> int:
        return sum(n.level == "error" for n in self.all_notes())

    @property
    def warnings(self) -> int:
        return sum(n.level == "warning" for n in self.all_notes())

    def all_notes(self) -> list[Note]:
        return [*self.general, *(n for line in self.lines for n in line.notes)]


def annotate(text: str, errors: list[RuleIssue], warnings: list[RuleIssue]) -> Annotated:
    """Every line of `text`, numbered from 1, each with the problems found on it."""
    lines = [AnnotatedLine(i, t) for i, t in enumerate(text.splitlines(), 1)]
    general: list[Note] = []
    for level, issues in (("error", errors), ("warning", warnings)):
        for issue in issues:
            note = Note(level, issue.where(), issue.message)
            if issue.line is not None and 1 <= issue.line <= len(lines):
                lines[issue.line - 1].notes.append(note)
            else:
                general.append(note)
    return Annotated(lines, general)


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed", "gap"
    old: int | None  # line number in the saved rules
    new: int | None  # line number in the draft
    text: str


def diff(saved: str, draft: str, context: int = 3) -> list[DiffLine]:
    """A line diff from `saved` to `draft` with `context` lines around each change;
    empty when they are the same."""
    a, b = saved.splitlines(), draft.splitlines()
    out: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("gap", None, None, "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(
                    DiffLine("same", i1 + k + 1, j1 + k + 1, a[i1 + k]) for k in range(i2 - i1)
                )
                continue
            out.extend(DiffLine("removed", i + 1, None, a[i]) for i in range(i1, i2))
            out.extend(DiffLine("added", None, j + 1, b[j]) for j in range(j1, j2))
    return out


def changed_lines(saved: str, draft: str) -> tuple[int, int]:
    """(lines added, lines removed) from `saved` to `draft`."""
    rows = diff(saved, draft, context=0)
    return sum(r.kind == "added" for r in rows), sum(r.kind == "removed" for r in rows)
