"""Bearer GUVSCALE_TOKEN authentication for every `/config/{id}...` route.

Routers under `/config` take `route_class=ConfigRoute`: the token is checked
first, before anything about the body, in the order `web.guarded` sets for
every JSON API (401, then 415, then 400 for ambiguous JSON, then 422). A
route takes `TenantDep`: the caller holds that resource's token, and what it
gets is a transaction scoped to that resource. On a router without
ConfigRoute, TenantDep checks the token itself (so it never fails open), but
after FastAPI has read the body: give body routes ConfigRoute.

Routers under `/config` pass `responses=CONFIG_ERRORS`, and routes taking a
body add `CONFIG_BODY_ERRORS`, so OpenAPI shows the errors as sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from guvscale.services import api_tokens
from guvscale.web.deps import TenantTransaction, Transaction, TxDep
from guvscale.web.guarded import GuardedRoute
from guvscale.web.schemas import ErrorBody, answers

# The config API's errors have the one shape every route sends.
ErrorOut = ErrorBody

# Describes the scheme in OpenAPI; the token is read and checked by `check_token`.
_bearer = HTTPBearer(auto_error=False, description="GUVSCALE_TOKEN from the app's config")


def bearer_token(request: Request) -> str | None:
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return token if scheme.lower() == "bearer" and token else None


async def check_token(request: Request) -> str:
    """The path's resource id when the request carries its GUVSCALE_TOKEN; else 401."""
    resource_id = str(request.path_params.get("id", ""))
    token = bearer_token(request)
    tx = Transaction(request.app.state.sessions)
    await tx(lambda session: api_tokens.authenticate(session, resource_id, token))
    request.state.tenant_id = resource_id
    return resource_id


class ConfigRoute(GuardedRoute):
    """The GUVSCALE_TOKEN first, then media type and strict JSON (`web.guarded`)."""

    async def check_caller(self, request: Request) -> None:
        await check_token(request)


async def authenticated(
    request: Request,
    tx: TxDep,
    resource_id: Annotated[str, Path(alias="id", description="GUVSCALE_ID")],
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TenantTransaction:
    if getattr(request.state, "tenant_id", None) != resource_id:
        await check_token(request)  # a route without ConfigRoute
    return TenantTransaction(tx, resource_id)


TenantDep = Annotated[TenantTransaction, Depends(authenticated)]

_WHY = {
    401: "GUVSCALE_TOKEN missing or wrong for this GUVSCALE_ID, or the add-on is not provisioned.",
    422: "A field is missing, mistyped or too long; nothing saved.",
}
CONFIG_ERRORS: dict[int | str, dict[str, Any]] = answers(401, why=_WHY)
CONFIG_BODY_ERRORS: dict[int | str, dict[str, Any]] = answers(400, 413, 415, 422, why=_WHY)
