"""A tenant's rules and dry-run flag, as the config API and the dashboard change them.

Rules are kept exactly as written, a new `rules_versions` row per save; the
newest is in force. Nothing is saved unless the rules load. Services flush;
the caller commits.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guvscale.db.models import Resource, RulesVersion
from guvscale.errors import Conflict, NotFound, Unprocessable
from guvscale.rules import RuleIssue, RulesError, load_with_warnings


@dataclass(frozen=True)
class SavedRules:
    version: int
    yaml_text: str
    warnings: list[RuleIssue]


class RulesRejected(Unprocessable):
    """422 invalid_rules, with every problem pointing at its role, key and line."""

    code = "invalid_rules"

    def __init__(self, error: RulesError) -> None:
        count = len(error.errors)
        super().__init__(f"the rules have {count} problem{'s' if count != 1 else ''}: {error}")
        self.errors = error.errors

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        body["errors"] = [issue.to_dict() for issue in self.errors]
        return body


class RulesChanged(Conflict):
    """409 rules_changed: a save from an older version than the one in force.

    Two editors opening version 1 both saved, and the second's version 3
    silently undid the first's version 2."""

    code = "rules_changed"

    def __init__(self, newest: int, based_on: int) -> None:
        since = f"version {based_on}" if based_on else "an empty page"
        super().__init__(
            f"version {newest} was saved since {since}, which this change started from; "
            f"nothing saved: start again from version {newest}",
            where="baseVersion",
        )
        self.newest = newest


def current_rules(session: Session, resource_id: str) -> RulesVersion | None:
    """The version in force (the newest), or None before any was saved."""
    return session.scalar(
        select(RulesVersion)
        .where(RulesVersion.resource_id == resource_id)
        .order_by(RulesVersion.version.desc())
        .limit(1)
    )


def current_yaml(session: Session, resource_id: str) -> str:
    rules = current_rules(session, resource_id)
    return rules.yaml_text if rules is not None else ""


def save_rules(
    session: Session,
    resource_id: str,
    yaml_text: str,
    *,
    author: str,
    now: dt.datetime,
    based_on: int | None = None,
) -> SavedRules:
    """Check and store a new version; RulesRejected (nothing stored) when they do not load.

    `based_on`: the version the change started from (0: none saved yet);
    RulesChanged (nothing stored) if another was saved since. None: saved
    whatever is in force (a file pushed from the CLI)."""
    try:
        _, warnings = load_with_warnings(yaml_text)
    except RulesError as exc:
        raise RulesRejected(exc) from None
    # Locking the tenant's row serialises concurrent saves, so versions never collide.
    _locked_resource(session, resource_id)
    newest = session.scalar(
        select(func.max(RulesVersion.version)).where(RulesVersion.resource_id == resource_id)
    )
    if based_on is not None and based_on != (newest or 0):
        raise RulesChanged(newest or 0, based_on)
    version = (newest or 0) + 1
    session.add(
        RulesVersion(
            resource_id=resource_id,
            version=version,
            yaml_text=yaml_text,
            author=author,
            created_at=now,
        )
    )
    session.flush()
    return SavedRules(version=version, yaml_text=yaml_text, warnings=warnings)


def set_dry_run(session: Session, resource_id: str, dry_run: bool) -> bool:
    """Decide and record, never apply, while on; returns the flag now in force."""
    resource = _locked_resource(session, resource_id)
    resource.dry_run = dry_run
    session.flush()
    return resource.dry_run


def _locked_resource(session: Session, resource_id: str) -> Resource:
    resource = session.scalar(select(Resource).where(Resource.id == resource_id).with_for_update())
    if resource is None:
        raise NotFound("no such add-on", where="id")
    return resource
