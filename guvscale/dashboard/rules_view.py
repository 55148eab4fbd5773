"""The saved rules as the dashboard reads them: the roles in force, and every version.

The version in force comes from `services.rules_config` (the config API's
own service); this adds what only the dashboard shows: the history.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.models import RulesVersion
from guvscale.rules import RulesError, load
from guvscale.rules.types import Role
from guvscale.services.rules_config import current_yaml


def saved_roles(db: Session, resource_id: str) -> dict[str, Role]:
    """The roles in force; none before any rules (saved rules loaded when they were
    saved; should a later parser refuse them, the dashboard shows no roles)."""
    text = current_yaml(db, resource_id)
    if not text:
        return {}
    try:
        return load(text)
    except RulesError:
        return {}


def history(db: Session, limit: int = 50) -> list[RulesVersion]:
    """Versions newest first (the session is scoped to the tenant)."""
    stmt = select(RulesVersion).order_by(RulesVersion.version.desc()).limit(limit)
    return list(db.scalars(stmt))


def version(db: Session, number: int) -> RulesVersion | None:
    return db.scalars(select(RulesVersion).where(RulesVersion.version == number)).first()
