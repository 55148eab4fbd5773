"""Changing a tenant's credentials: checked end to end before anything is saved.

The token with Heroku (`GET /account`), the app from Heroku (`GET
/addons/{uuid}`, not from SSO), the broker from the app's config vars unless
given, the management URL given or derived, and one read of the queues.
HTTP-free: the config API and the dashboard both call `update_credentials`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.crypto import Vault
from guvscale.db.models import Resource, ResourceState
from guvscale.errors import NotFound, Unprocessable
from guvscale.heroku.errors import (
    HerokuAuthError,
    HerokuError,
    HerokuNotFound,
    HerokuPaymentRequired,
)
from guvscale.heroku.platform import HerokuPlatform
from guvscale.rabbitmq import (
    BrokerAuthFailed,
    BrokerError,
    ManagementClient,
    VhostMissing,
    check_broker_url,
    vhost_of,
)
from guvscale.rabbitmq.urls import AMQP_SCHEMES, HTTP_SCHEMES
from guvscale.services.credentials import (
    BROKER_VARS,
    GIVEN,
    CredentialsSummary,
    TenantCredentials,
    find_broker,
    given_management_url,
    load_credentials,
    management_in_force,
    save_credentials,
    summarise,
)

T = TypeVar("T")
# Field names as the config API spells them, so an error points at the input.
TOKEN_FIELD, BROKER_FIELD, MANAGEMENT_FIELD = "herokuToken", "brokerUrl", "managementUrl"


@dataclass(frozen=True)
class CredentialsChange:
    """What the user sends; None keeps what is stored.

    An empty broker_url forgets a given URL (find it in the app's config vars
    again); an empty management_url goes back to deriving it.
    """

    heroku_token: str | None = None
    broker_url: str | None = None
    management_url: str | None = None


class CredentialsRejected(Unprocessable):
    """422: which input failed (`where`) and why; nothing was saved."""

    code = "invalid_credentials"


class RunInTransaction(Protocol):
    """Runs work(session) in one transaction; `web.deps.Transaction` is one."""

    def __call__(self, work: Callable[[Session], T]) -> Awaitable[T]: ...


class CredentialsChecker:
    """Checks a change against Heroku and the broker; holds the clients it needs."""

    def __init__(
        self,
        platform: HerokuPlatform,
        http: httpx.AsyncClient,
        *,
        allow_private: bool,
        timeout: float,
    ) -> None:
        self._platform = platform
        self._http = http
        self._allow_private = allow_private
        self._timeout = timeout

    async def check(
        self, heroku_uuid: str, current: TenantCredentials, change: CredentialsChange
    ) -> tuple[TenantCredentials, list[str]]:
        """The credentials that would be in force, and the queues seen; CredentialsRejected."""
        token, app_id, app_name = current.heroku_token, current.app_id, current.app_name
        if change.heroku_token is not None:
            token = change.heroku_token.strip()
            if not token:
                raise CredentialsRejected("herokuToken is empty", where=TOKEN_FIELD)
        if token is not None and (change.heroku_token is not None or app_id is None):
            app_id, app_name = await self._find_app(token, heroku_uuid)

        broker, source = await self._broker(token, app_id, app_name, current, change)
        await self._refuse_unsafe(broker, AMQP_SCHEMES, BROKER_FIELD)

        given = change.management_url
        if given is None and current.management_source == GIVEN:
            given = given_management_url(current)
        given = (given or "").strip() or None
        if given is not None:  # before it is read, so a URL that does not parse is a 422
            await self._refuse_unsafe(given, HTTP_SCHEMES, MANAGEMENT_FIELD)
        management, management_source = management_in_force(broker, given)
        assert management is not None  # a broker is always known here
        queues = await self._read_queues(management, broker, management_source)
        credentials = TenantCredentials(
            heroku_token=token,
            app_id=app_id,
            app_name=app_name,
            broker_url=broker,
            management_url=management,
            broker_source=source,
            management_source=management_source,
        )
        return credentials, queues

    async def _find_app(self, token: str, heroku_uuid: str) -> tuple[str, str | None]:
        try:
            await asyncio.to_thread(self._platform.get_account, token)
        except HerokuError as exc:
            raise _heroku_rejected(exc, "checking the token (GET /account)") from None
        try:
            addon = await asyncio.to_thread(self._platform.get_addon, token, heroku_uuid)
        except HerokuError as exc:
            # The token is good (GET /account passed), so 403/404 means: not this app's.
            if isinstance(exc, HerokuNotFound) or exc.status == 403:
                raise CredentialsRejected(
                    f"this token cannot see the GuvScale add-on ({exc.status} {exc.id}): make "
                    "it with `heroku authorizations:create` as a user with access to the app",
                    where=TOKEN_FIELD,
                ) from None
            raise _heroku_rejected(exc, "finding the app (GET /addons)") from None
        if addon.app_id is None:
            raise CredentialsRejected(
                "Heroku did not say which app the add-on is attached to", where=TOKEN_FIELD
            )
        return addon.app_id, addon.app_name

    async def _broker(
        self,
        token: str | None,
        app_id: str | None,
        app_name: str | None,
        current: TenantCredentials,
        change: CredentialsChange,
    ) -> tuple[str, str]:
        if change.broker_url and change.broker_url.strip():
            return change.broker_url.strip(), GIVEN
        if change.broker_url is None and current.broker_source == GIVEN and current.broker_url:
            return current.broker_url, GIVEN
        if token is None or app_id is None:
            raise CredentialsRejected(
                "no broker URL: give brokerUrl, or herokuToken so GuvScale can find it "
                f"in your app's config vars ({', '.join(BROKER_VARS)})",
                where=BROKER_FIELD,
            )
        try:
            found = await asyncio.to_thread(find_broker, self._platform, token, app_id)
        except HerokuError as exc:
            raise _heroku_rejected(exc, "reading the app's config vars") from None
        if found is None:
            raise CredentialsRejected(
                f"none of {', '.join(BROKER_VARS)} is set on app {app_name or app_id}: "
                "add a RabbitMQ add-on or give brokerUrl",
                where=BROKER_FIELD,
            )
        return found[1], found[0]

    async def _refuse_unsafe(self, url: str, schemes: tuple[str, ...], where: str) -> None:
        scheme = url.partition("://")[0].lower() if "://" in url else ""
        if scheme not in schemes:
            raise CredentialsRejected(
                f"{where} must start with {' or '.join(s + '://' for s in schemes)}", where=where
            )
        try:
            await asyncio.to_thread(check_broker_url, url, allow_private=self._allow_private)
        except BrokerError as exc:
            raise CredentialsRejected(f"{where}: {exc.message}", where=where) from None

    async def _read_queues(self, management: str, broker: str, source: str | None) -> list[str]:
        try:
            client = ManagementClient(
                self._http, management, timeout=self._timeout, allow_private=self._allow_private
            )
            found = await client.names(vhost_of(broker))
        except BrokerError as exc:
            # A derived URL fails because of the AMQP URL; a given one because of itself.
            where = MANAGEMENT_FIELD if source == GIVEN else BROKER_FIELD
            hint = ""
            if isinstance(exc, BrokerAuthFailed | VhostMissing):
                hint = " (the user, password or vhost of the broker URL)"
            raise CredentialsRejected(
                f"reading the queues from the RabbitMQ management API failed{hint}: {exc.message}",
                where=where,
            ) from None
        return sorted(found)


def _heroku_rejected(exc: HerokuError, doing: str) -> CredentialsRejected:
    if isinstance(exc, HerokuAuthError | HerokuPaymentRequired):
        why = f"Heroku refused the token ({exc.status} {exc.id}: {exc.message})"
    else:
        why = f"Heroku answered {exc.status} {exc.id}: {exc.message}; try again"
    return CredentialsRejected(f"{doing}: {why}", where=TOKEN_FIELD)


async def update_credentials(
    tx: RunInTransaction,
    vault: Vault,
    checker: CredentialsChecker,
    resource_id: str,
    change: CredentialsChange,
) -> CredentialsSummary:
    """Check the change end to end, then save it; CredentialsRejected saves nothing.

    Network calls run between two short transactions, never inside one.
    """

    def read(session: Session) -> tuple[str, TenantCredentials]:
        resource = session.get(Resource, resource_id)
        if resource is None:
            raise NotFound("no such add-on", where="id")
        return resource.heroku_uuid, load_credentials(session, vault, resource_id)

    def save(session: Session) -> None:
        # FOR SHARE: a deprovision that landed while we checked has deleted
        # the credentials, and saving now would keep the owner's token and
        # broker password for good; one still to land waits for us, then
        # deletes what we wrote.
        state = session.scalars(
            select(Resource.state).where(Resource.id == resource_id).with_for_update(read=True)
        ).one_or_none()
        if state != ResourceState.provisioned:
            raise NotFound(
                "the add-on was deprovisioned while its credentials were checked", where="id"
            )
        save_credentials(session, vault, resource_id, credentials)

    heroku_uuid, current = await tx(read)
    credentials, queues = await checker.check(heroku_uuid, current, change)
    await tx(save)
    return summarise(credentials, queues)


async def current_credentials(
    tx: RunInTransaction, vault: Vault, resource_id: str
) -> CredentialsSummary:
    return summarise(await tx(lambda session: load_credentials(session, vault, resource_id)))
