"""Setup: the owner's Heroku token and the broker, checked end to end on save.

Saving goes through `services.credentials_check.update_credentials`, the config
API's own service: the token is checked with Heroku, the app found from
Heroku, the broker found in the app's config vars (or given) and its queues
read once. What is stored is shown masked; the token field is never filled
back in, so no secret is ever sent to the browser.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from guvscale.db.crypto import Vault
from guvscale.db.models import Resource
from guvscale.services import credentials, credentials_check
from guvscale.web.auth import (
    CsrfDep,
    Login,
    LoginDep,
    PageRoute,
    PathResourceDep,
    current_resource,
    resource_in_path,
)
from guvscale.web.deps import DbDep, TenantTransaction, TxDep, VaultDep
from guvscale.web.pages import render, shell
from guvscale.web.routes.config import CheckerDep

router = APIRouter(route_class=PageRoute)
Field = Annotated[str, Form(max_length=2000)]
# The service names the config API's fields; the form's inputs are these.
INPUTS = {
    credentials_check.TOKEN_FIELD: "heroku_token",
    credentials_check.BROKER_FIELD: "broker_url",
    credentials_check.MANAGEMENT_FIELD: "management_url",
}


def _context(
    db: Session, resource: Resource, login: Login, vault: Vault, **extra: object
) -> dict[str, Any]:
    summary = credentials.summarise(credentials.load_credentials(db, vault, resource.id))
    return shell(db, resource, login, "setup", summary=summary, **extra)


@router.get("/resources/{resource_id}/setup", include_in_schema=False)
def setup_page(
    request: Request,
    resource: PathResourceDep,
    login: LoginDep,
    db: DbDep,
    vault: VaultDep,
    saved: int = 0,
) -> Response:
    return render(request, "setup.html", _context(db, resource, login, vault, saved=bool(saved)))


async def signed_in_tenant(
    request: Request, resource_id: str, login: LoginDep, tx: TxDep
) -> TenantTransaction:
    """The session's resource (the same checks as PathResourceDep) in short
    transactions of its own, so the checks' network calls hold no transaction open."""

    def check(db: Session) -> str:
        return resource_in_path(resource_id, current_resource(request, login, db)).id

    return TenantTransaction(tx, await tx(check))


@router.post("/resources/{resource_id}/setup", include_in_schema=False)
async def save_setup(
    request: Request,
    tenant: Annotated[TenantTransaction, Depends(signed_in_tenant)],
    login: LoginDep,
    vault: VaultDep,
    checker: CheckerDep,
    _csrf: CsrfDep,
    heroku_token: Field = "",
    broker_url: Field = "",
    management_url: Field = "",
    find_broker: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    change = credentials_check.CredentialsChange(
        heroku_token=heroku_token.strip() or None,
        # Ticked: forget a given URL and find it in the app's config vars again.
        broker_url="" if find_broker else (broker_url.strip() or None),
        management_url=management_url.strip() or None,
    )
    error: credentials_check.CredentialsRejected | None = None
    if change == credentials_check.CredentialsChange():
        error = credentials_check.CredentialsRejected("give a token or a broker URL to change")
    else:
        try:
            await credentials_check.update_credentials(
                tenant, vault, checker, tenant.resource_id, change
            )
        except credentials_check.CredentialsRejected as exc:
            error = exc
    if error is None:
        url = f"/resources/{tenant.resource_id}/setup?saved=1"
        return RedirectResponse(url, status_code=303)

    def page(db: Session) -> dict[str, Any]:
        resource = current_resource(request, login, db)
        return _context(
            db,
            resource,
            login,
            vault,
            error=error.message,
            error_field=INPUTS.get(error.where or "", ""),
            # What the user typed, except the token: secrets never go back.
            given_broker=broker_url if "@" not in broker_url else "",
            given_management=management_url if "@" not in management_url else "",
        )

    return render(request, "setup.html", await tenant(page), 422)
