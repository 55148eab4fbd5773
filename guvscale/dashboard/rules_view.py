"""The saved rules as the dashboard reads them: the one in force, and every version."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.models import RulesVersion
from guvscale.rules import RulesError, load
from guvscale.rules.types import Role


def current(db: Session) -> RulesVersion | None:
    """The newest version: the one in force."""
    return db.scalars(select(RulesVersion).order_by(RulesVersion.version.desc()).limit(1)).first()


def saved_text(db: Session) -> str:
    row = current(db)
    return row.yaml_text if row else ""


def saved_roles(db: Session) -> dict[str, Role]:
    """The roles in force; none when there are no rules (saved rules always load,
    as they were checked on save; a rule the parser later refuses shows none)."""
    text = saved_text(db)
    if not text:
        return {}
    try:
        return load(text)
    except RulesError:
        return {}


def history(db: Session, limit: int = 50) -> list[RulesVersion]:
    stmt = select(RulesVersion).order_by(RulesVersion.version.desc()).limit(limit)
    return list(db.scalars(stmt))


def version(db: Session, number: int) -> RulesVersion | None:
    return db.scalars(select(RulesVersion).where(RulesVersion.version == number)).first()
