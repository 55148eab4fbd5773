"""Bearer GUVSCALE_TOKEN authentication for every `/config/{id}...` route.

A route takes `TenantDep`: the caller is the holder of that resource's token,
and what it gets is a transaction scoped to that resource. Routers under
`/config` pass `responses=CONFIG_ERRORS` so OpenAPI shows the shared errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from guvscale.services import api_tokens
from guvscale.web.deps import TenantTransaction, TxDep


class ErrorOut(BaseModel):
    id: str
    message: str
    where: str | None = None


_bearer = HTTPBearer(auto_error=False, description="GUVSCALE_TOKEN from the app's config")


async def authenticated(
    tx: TxDep,
    resource_id: Annotated[str, Path(alias="id", description="GUVSCALE_ID")],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TenantTransaction:
    token = bearer.credentials if bearer is not None else None
    await tx(lambda session: api_tokens.authenticate(session, resource_id, token))
    return TenantTransaction(tx, resource_id)


TenantDep = Annotated[TenantTransaction, Depends(authenticated)]

CONFIG_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "GUVSCALE_TOKEN missing or wrong for this id"},
    422: {"model": ErrorOut, "description": "the body is not what this call takes"},
}
