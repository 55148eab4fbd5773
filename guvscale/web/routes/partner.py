"""The Add-on Partner API: Heroku provisions, deprovisions and re-plans through here.

Thin on purpose: check who is calling, parse, call a service, answer.
Authentication comes first, so a caller without the password learns nothing,
not even whether its body would have parsed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from guvscale.errors import Unauthorized, UnsupportedMediaType
from guvscale.services import provisioning
from guvscale.services.config_vars import ConfigIssuer
from guvscale.settings import Settings
from guvscale.web.deps import TxDep, VaultDep

Model = TypeVar("Model", bound=BaseModel)
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


async def require_partner(request: Request) -> None:
    """Basic auth with the manifest's id and password, compared in constant time."""
    settings: Settings = request.app.state.settings
    given = _credentials(request.headers.get("authorization", ""))
    user, password = given or (b"", b"")
    # Both comparisons always run, so timing tells nothing about which part is wrong.
    user_ok = hmac.compare_digest(user, settings.addon_id.encode())
    password_ok = hmac.compare_digest(password, settings.addon_password.encode())
    if given is None or not (user_ok & password_ok):
        raise Unauthorized("partner credentials missing or wrong", headers=_CHALLENGE)


async def json_body(request: Request) -> bytes:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {media[:100] or 'none'!r}",
            where="content-type",
        )
    return await request.body()


def parse(model: type[Model], raw: bytes) -> Model:
    """The body as `model`; errors name the field (422) or say the JSON is broken (400)."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        # No input echoed back: a body may carry a grant code.
        errors = exc.errors(include_url=False, include_input=False)
        for error in errors:
            error["loc"] = ("body", *error["loc"])
        raise RequestValidationError(errors) from None


async def issuer_for(request: Request) -> ConfigIssuer:
    settings: Settings = request.app.state.settings
    return ConfigIssuer(settings.secret_key, settings.public_url)


Body = Annotated[bytes, Depends(json_body)]
IssuerDep = Annotated[ConfigIssuer, Depends(issuer_for)]

router = APIRouter(prefix="/heroku/resources", dependencies=[Depends(require_partner)])


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@router.post("")
async def provision(raw: Body, tx: TxDep, issuer: IssuerDep, vault: VaultDep) -> JSONResponse:
    request = parse(provisioning.ProvisionRequest, raw)
    now = _now()
    done = await tx(
        lambda db: provisioning.provision(db, request, issuer=issuer, vault=vault, now=now)
    )
    body: dict[str, object] = {"id": done.resource_id, "message": done.message}
    if done.asynchronous:
        return JSONResponse(body, status_code=202)
    body["config"] = done.config
    return JSONResponse(body, status_code=201 if done.created else 200)


@router.delete("/{ident}", status_code=204)
async def deprovision(ident: str, tx: TxDep) -> Response:
    now = _now()
    await tx(lambda db: provisioning.deprovision(db, ident, now=now))
    return Response(status_code=204)


@router.put("/{ident}")
async def change_plan(ident: str, raw: Body, tx: TxDep, issuer: IssuerDep) -> JSONResponse:
    request = parse(provisioning.PlanChangeRequest, raw)
    changed = await tx(lambda db: provisioning.change_plan(db, ident, request, issuer=issuer))
    return JSONResponse({"config": changed.config, "message": changed.message})
