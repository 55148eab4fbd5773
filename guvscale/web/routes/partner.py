"""The Add-on Partner API: Heroku provisions, deprovisions and re-plans through here.

Thin on purpose: check who is calling, parse, call a service, answer.
`PartnerRoute` checks, in the order `web.guarded` sets for every JSON API
and before FastAPI reads the body: credentials (401), Content-Type (415),
that the body is one unambiguous JSON document (400); then FastAPI
validates the body against the route's typed model (422 naming the field).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic
from pydantic import BaseModel, Field

from guvscale.errors import Unauthorized
from guvscale.services import provisioning
from guvscale.services.config_vars import ConfigIssuer
from guvscale.settings import Settings
from guvscale.web.deps import TxDep, VaultDep
from guvscale.web.guarded import GuardedRoute
from guvscale.web.schemas import answers

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="guvscale", charset="UTF-8"'}


def _credentials(header: str) -> tuple[bytes, bytes] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None


def check_partner(request: Request) -> None:
    """Basic auth with the manifest's id and password, compared in constant time."""
    settings: Settings = request.app.state.settings
    given = _credentials(request.headers.get("authorization", ""))
    user, password = given or (b"", b"")
    # Both comparisons always run, so timing tells nothing about which part is wrong.
    user_ok = hmac.compare_digest(user, settings.addon_id.encode())
    password_ok = hmac.compare_digest(password, settings.addon_password.encode())
    if given is None or not (user_ok & password_ok):
        raise Unauthorized("partner credentials missing or wrong", headers=_CHALLENGE)
    request.state.partner = True


class PartnerRoute(GuardedRoute):
    """Partner credentials first, then media type and strict JSON (`web.guarded`)."""

    async def check_caller(self, request: Request) -> None:
        check_partner(request)


class PartnerAuth(HTTPBasic):
    """Describes the partner API's basic auth in OpenAPI; PartnerRoute enforces it.

    As a dependency it only confirms the check ran, so a route added to this
    router without PartnerRoute fails closed.
    """

    async def __call__(self, request: Request) -> None:  # type: ignore[override]
        if not getattr(request.state, "partner", False):
            raise Unauthorized("partner credentials missing or wrong", headers=_CHALLENGE)


async def issuer_for(request: Request) -> ConfigIssuer:
    settings: Settings = request.app.state.settings
    return ConfigIssuer(settings.secret_key, settings.public_url)


IssuerDep = Annotated[ConfigIssuer, Depends(issuer_for)]
Config = Annotated[
    dict[str, str], Field(description="config vars Heroku sets on the app: GUVSCALE_*")
]


class ProvisionAnswer(BaseModel):
    id: str = Field(description="our id for the add-on (gvs-...)")
    message: str
    config: Config


class PendingAnswer(BaseModel):
    id: str = Field(description="our id for the add-on (gvs-...)")
    message: str


class PlanAnswer(BaseModel):
    config: Config
    message: str


router = APIRouter(
    prefix="/heroku/resources",
    tags=["partner"],
    route_class=PartnerRoute,
    dependencies=[
        Depends(PartnerAuth(scheme_name="heroku_partner", realm="guvscale", auto_error=False))
    ],
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.post(
    "",
    status_code=201,
    response_model=ProvisionAnswer,
    responses={
        200: {"model": ProvisionAnswer, "description": "A repeat: the first provision's answer."},
        202: {
            "model": PendingAnswer,
            "description": "Asynchronous: the grant is exchanged and config set shortly.",
        },
        **answers(400, 401, 413, 415, 422),
    },
)
async def provision(
    request: provisioning.ProvisionRequest, tx: TxDep, issuer: IssuerDep, vault: VaultDep
) -> JSONResponse:
    now = _now()
    done = await tx(
        lambda db: provisioning.provision(db, request, issuer=issuer, vault=vault, now=now)
    )
    if done.asynchronous or done.config is None:
        pending = PendingAnswer(id=done.resource_id, message=done.message)
        return JSONResponse(pending.model_dump(), status_code=202)
    answer = ProvisionAnswer(id=done.resource_id, message=done.message, config=done.config)
    return JSONResponse(answer.model_dump(), status_code=201 if done.created else 200)


@router.delete("/{ident}", status_code=204, response_class=Response, responses=answers(401, 404))
async def deprovision(ident: str, tx: TxDep) -> Response:
    now = _now()
    await tx(lambda db: provisioning.deprovision(db, ident, now=now))
    return Response(status_code=204)


@router.put("/{ident}", responses=answers(400, 401, 404, 413, 415, 422))
async def change_plan(
    ident: str, request: provisioning.PlanChangeRequest, tx: TxDep, issuer: IssuerDep
) -> PlanAnswer:
    changed = await tx(lambda db: provisioning.change_plan(db, ident, request, issuer=issuer))
    return PlanAnswer(config=changed.config, message=changed.message)
