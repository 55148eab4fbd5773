"""Tenant scoping: a scoped session sees only its tenant; an undeclared one refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, ResourceState, RulesVersion
from guvscale.db.scoping import TenantScopeError, scope_to, unscoped


def _tenant(session: Session, uuid: str, yaml_text: str) -> str:
    resource = Resource(heroku_uuid=uuid, plan="test", region="us", state=ResourceState.provisioned)
    session.add(resource)
    session.flush()
    session.add(
        RulesVersion(
            resource_id=resource.id,
            version=1,
            yaml_text=yaml_text,
            author="api",
            created_at=dt.datetime.now(dt.UTC),
        )
    )
    return resource.id


@pytest.fixture
def two_tenants(sessions: sessionmaker[Session]) -> tuple[str, str]:
    with sessions.begin() as session:
        unscoped(session)
        return _tenant(session, "uuid-a", "a: {}"), _tenant(session, "uuid-b", "b: {}")


def test_scoped_session_sees_only_its_tenant(
    sessions: sessionmaker[Session], two_tenants: tuple[str, str]
) -> None:
    a, b = two_tenants
    with sessions() as session:
        scope_to(session, a)
        rows = session.scalars(select(RulesVersion)).all()
        assert [r.yaml_text for r in rows] == ["a: {}"]
        # Even an explicit filter for another tenant's id finds nothing.
        other = select(RulesVersion).where(RulesVersion.resource_id == b)
        assert session.scalars(other).all() == []


def test_session_without_scope_refuses_tenant_queries(
    sessions: sessionmaker[Session], two_tenants: tuple[str, str]
) -> None:
    with sessions() as session, pytest.raises(TenantScopeError):
        session.scalars(select(RulesVersion)).all()


def test_unscoped_session_sees_all(
    sessions: sessionmaker[Session], two_tenants: tuple[str, str]
) -> None:
    with sessions() as session:
        unscoped(session)
        assert len(session.scalars(select(RulesVersion)).all()) == 2


def test_resources_table_itself_is_not_tenant_owned(
    sessions: sessionmaker[Session], two_tenants: tuple[str, str]
) -> None:
    # Resources are looked up by id/uuid before a scope exists (partner API, SSO).
    with sessions() as session:
        assert len(session.scalars(select(Resource)).all()) == 2
