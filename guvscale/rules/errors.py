"""What `load` reports when rules are wrong: every problem of a document at once."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RuleIssue:
    """One problem, pointing back at the YAML.

    role: the role it belongs to ('*' for the defaults), None for the document.
    key: the setting (long name, e.g. 'deadline'), None for the whole role.
    line: 1-based line in the YAML text, None when no line applies.
    message: a sentence for a user who is not a programmer.
    """

    role: str | None
    key: str | None
    line: int | None
    message: str

    def to_dict(self) -> dict[str, str | int | None]:
        return asdict(self)

    def where(self) -> str:
        """'role.key', 'role' or '' — the part a one-line report puts before the message."""
        return ".".join(p for p in (self.role, self.key) if p is not None)

    def __str__(self) -> str:
        parts = [f"line {self.line}" if self.line is not None else "", self.where()]
        prefix = ": ".join(p for p in parts if p)
        return f"{prefix}: {self.message}" if prefix else self.message


class RulesError(Exception):
    """The rules cannot be used; `errors` lists every problem found, in line order."""

    def __init__(self, errors: list[RuleIssue]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.line is None, e.line or 0))
        count = len(self.errors)
        first = str(self.errors[0]) if self.errors else "invalid rules"
        more = f" (and {count - 1} more)" if count > 1 else ""
        super().__init__(first + more)

    def to_list(self) -> list[dict[str, str | int | None]]:
        return [e.to_dict() for e in self.errors]
