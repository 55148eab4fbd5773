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
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from guvscale.db.crypto import Vault
from guvscale.errors import UnsupportedMediaType
from guvscale.services import provisioning
from guvscale.services.config_vars import ConfigIssuer
from guvscale.settings import Settings

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")
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
        raise HTTPException(401, "partner credentials missing or wrong", headers=_CHALLENGE)


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


# The dependencies here are async and read app.state directly: each sync
# dependency costs a trip through the thread pool, which the provisioning
# benchmark (bench/provision.py) showed as the largest share of a request's CPU.
async def issuer_for(request: Request) -> ConfigIssuer:
    settings: Settings = request.app.state.settings
    return ConfigIssuer(settings.secret_key, settings.public_url)


async def vault_of(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


class Transaction:
    """Runs a service call in one transaction, in one trip to the thread pool.

    The same contract as web.deps.DbDep (committed before the answer, rolled
    back on any error), minus two of its three thread-pool trips per request.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def __call__(self, work: Callable[[Session], T]) -> T:
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        with self._sessions() as session:
            try:
                result = work(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            return result


async def transaction(request: Request) -> Transaction:
    return Transaction(request.app.state.sessions)


Body = Annotated[bytes, Depends(json_body)]
TxDep = Annotated[Transaction, Depends(transaction)]
IssuerDep = Annotated[ConfigIssuer, Depends(issuer_for)]
VaultDep = Annotated[Vault, Depends(vault_of)]

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
