"""Tenant scoping, in one place.

Every ORM query that touches a `TenantOwned` table is filtered to the session's
tenant. A session must say which tenant it serves (`scope_to`) or that it
deliberately spans tenants (`unscoped`, for the partner API and background
jobs); a query on tenant rows in a session that said neither raises, so a
forgotten filter is a loud error instead of a data leak.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from guvscale.db.models import TenantOwned

_TENANT = "tenant_id"
_UNSCOPED = "unscoped"


class TenantScopeError(RuntimeError):
    """A query on tenant data from a session that declared no tenant."""


def scope_to(session: Session, resource_id: str) -> Session:
    session.info[_TENANT] = resource_id
    session.info.pop(_UNSCOPED, None)
    return session


def unscoped(session: Session) -> Session:
    session.info[_UNSCOPED] = True
    session.info.pop(_TENANT, None)
    return session


def _touches_tenant_rows(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the parent row was already scoped
    info: dict[str, Any] = state.session.info
    if info.get(_UNSCOPED):
        return
    tenant = info.get(_TENANT)
    if tenant is None:
        if _touches_tenant_rows(state):
            raise TenantScopeError("query on tenant data from a session with no tenant scope")
        return
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantOwned,
            lambda cls: cls.resource_id == tenant,
            include_aliases=True,
        )
    )
