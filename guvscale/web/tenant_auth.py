"""Bearer GUVSCALE_TOKEN for /config/{id} routes (minimal; h4's api_tokens replaces it).

A wrong token, a missing one and another resource's token all get the same
401, so the answer tells nobody whether an id exists.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.models import Resource, ResourceState
from guvscale.db.scoping import scope_to
from guvscale.errors import Unauthorized
from guvscale.services.config_vars import token_hash
from guvscale.web.deps import Transaction, TxDep

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="GUVSCALE_TOKEN from the app's config")


class TenantTransaction:
    """A transaction scoped to the authenticated tenant."""

    def __init__(self, tx: Transaction, resource_id: str) -> None:
        self._tx = tx
        self.resource_id = resource_id

    async def __call__(self, work: Callable[[Session], T]) -> T:
        return await self._tx(lambda session: work(scope_to(session, self.resource_id)))


def _check(session: Session, resource_id: str, token: str | None) -> None:
    row = session.execute(
        select(Resource.api_token_hash, Resource.state).where(Resource.id == resource_id)
    ).first()
    expected = row[0] if row is not None and row[0] else "0" * 64
    given = token_hash(token) if token else ""
    if (
        row is None
        or not hmac.compare_digest(given.encode(), expected.encode())
        or row[1] != ResourceState.provisioned
    ):
        raise Unauthorized(
            "GUVSCALE_TOKEN missing or wrong for this GUVSCALE_ID",
            headers={"WWW-Authenticate": 'Bearer realm="guvscale"'},
        )


async def authenticated(
    tx: TxDep,
    resource_id: Annotated[str, Path(alias="id", description="GUVSCALE_ID")],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TenantTransaction:
    token = bearer.credentials if bearer is not None else None
    await tx(lambda session: _check(session, resource_id, token))
    return TenantTransaction(tx, resource_id)


TenantDep = Annotated[TenantTransaction, Depends(authenticated)]
