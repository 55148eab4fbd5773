"""A tenant's credentials: the owner's Heroku token, the app it scales, its broker.

Stored encrypted (token, AMQP URL, a given management URL) beside the plain
app id, app name and where the broker URL came from. Changing them is checked
end to end before anything is saved: the token with Heroku (`GET /account`),
the app from Heroku (`GET /addons/{uuid}`, not from SSO), the broker from the
app's config vars unless given, and one read of the queues. HTTP-free: the
config API and the dashboard both call `update_credentials`; the worker reads
`load_credentials` and, when connecting fails, `refresh_broker_url`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from guvscale.db.crypto import Vault
from guvscale.db.models import Credentials, Resource
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
    management_url_for,
    mask_url,
    vhost_of,
    with_login_of,
)
from guvscale.rabbitmq.urls import AMQP_SCHEMES, HTTP_SCHEMES

T = TypeVar("T")

# Where add-ons put the broker URL, in the order we look (issue 8).
BROKER_VARS = ("CLOUDAMQP_URL", "RABBITMQ_URL", "RABBITMQ_BIGWIG_URL", "AMQP_URL")
GIVEN = "given"
DERIVED = "derived"
MASK = "****"
# Field names as the config API spells them, so an error points at the input.
TOKEN_FIELD, BROKER_FIELD, MANAGEMENT_FIELD = "herokuToken", "brokerUrl", "managementUrl"


@dataclass(frozen=True)
class TenantCredentials:
    heroku_token: str | None
    app_id: str | None
    app_name: str | None
    broker_url: str | None
    management_url: (
        str | None
    )  # in force: given (with the broker's login if it had none) or derived
    broker_source: str | None  # "CLOUDAMQP_URL", ..., or "given"
    # "given" or "derived"; None with no broker.
    management_source: str | None = None


NO_CREDENTIALS = TenantCredentials(None, None, None, None, None, None, None)


@dataclass(frozen=True)
class CredentialsChange:
    """What the user sends; None keeps what is stored.

    An empty broker_url forgets a given URL (find it in the app's config vars
    again); an empty management_url goes back to deriving it.
    """

    heroku_token: str | None = None
    broker_url: str | None = None
    management_url: str | None = None


@dataclass(frozen=True)
class CredentialsSummary:
    """What is in force, safe to show: token as its last 4 characters, URLs without passwords."""

    heroku_token: str | None
    app_id: str | None
    app_name: str | None
    broker_url: str | None
    broker_source: str | None
    management_url: str | None
    management_source: str | None
    queues: list[str] | None = None  # seen by the check, when one ran


class CredentialsRejected(Unprocessable):
    """422: which input failed (`where`) and why; nothing was saved."""

    code = "invalid_credentials"


class RunInTransaction(Protocol):
    """Runs work(session) in one transaction; `web.deps.Transaction` is one."""

    def __call__(self, work: Callable[[Session], T]) -> Awaitable[T]: ...


# -- reading and writing -------------------------------------------------


def load_credentials(session: Session, vault: Vault, resource_id: str) -> TenantCredentials:
    """The resource's credentials, decrypted; raises DecryptionError if a key is missing."""
    row = _row(session, resource_id)
    if row is None:
        return NO_CREDENTIALS

    def opened(value: bytes | None) -> str | None:
        return vault.decrypt(value) if value is not None else None

    broker = opened(row.rabbitmq_url_enc)
    given_management = opened(row.management_url_enc)
    management, management_source = _management(broker, given_management)
    return TenantCredentials(
        heroku_token=opened(row.heroku_token_enc),
        app_id=row.heroku_app_id,
        app_name=row.heroku_app_name,
        broker_url=broker,
        management_url=management,
        broker_source=row.broker_source,
        management_source=management_source,
    )


def save_credentials(
    session: Session, vault: Vault, resource_id: str, credentials: TenantCredentials
) -> None:
    """Store (encrypting the secrets); flushes, the caller commits."""
    row = _row(session, resource_id)
    if row is None:
        row = Credentials(resource_id=resource_id)
        session.add(row)

    def sealed(value: str | None) -> bytes | None:
        return vault.encrypt(value) if value is not None else None

    row.heroku_token_enc = sealed(credentials.heroku_token)
    row.heroku_app_id = credentials.app_id
    row.heroku_app_name = credentials.app_name
    row.rabbitmq_url_enc = sealed(credentials.broker_url)
    row.broker_source = credentials.broker_source
    # A derived management URL is not stored: it follows the AMQP URL when that rotates.
    given = _stored_management(credentials) if credentials.management_source == GIVEN else None
    row.management_url_enc = sealed(given)
    session.flush()


def summarise(
    credentials: TenantCredentials, queues: list[str] | None = None
) -> CredentialsSummary:
    return CredentialsSummary(
        heroku_token=mask_token(credentials.heroku_token),
        app_id=credentials.app_id,
        app_name=credentials.app_name,
        broker_url=_masked(credentials.broker_url),
        broker_source=credentials.broker_source,
        management_url=_masked(credentials.management_url),
        management_source=credentials.management_source,
        queues=queues,
    )


def mask_token(token: str | None) -> str | None:
    if token is None:
        return None
    # Short tokens show nothing: four characters of six would give most of it away.
    return MASK + token[-4:] if len(token) >= 16 else MASK


def _masked(url: str | None) -> str | None:
    return mask_url(url) if url is not None else None


def _row(session: Session, resource_id: str) -> Credentials | None:
    return session.scalar(select(Credentials).where(Credentials.resource_id == resource_id))


def _management(broker: str | None, given: str | None) -> tuple[str | None, str | None]:
    if given:
        return (with_login_of(given, broker) if broker else given), GIVEN
    if broker:
        return management_url_for(broker), DERIVED
    return None, None


# -- changing them ---------------------------------------------------------


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
            given = _stored_management(current)
        management, management_source = _management(broker, (given or "").strip() or None)
        assert management is not None  # a broker is always known here
        if management_source == GIVEN:
            await self._refuse_unsafe(management, HTTP_SCHEMES, MANAGEMENT_FIELD)
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
            client = ManagementClient(self._http, management, timeout=self._timeout)
            found = await client.queues(vhost_of(broker))
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


def _stored_management(current: TenantCredentials) -> str | None:
    if current.management_url is None or current.broker_url is None:
        return current.management_url
    return _own_part(current.management_url, current.broker_url)


def _own_part(management: str, broker: str) -> str:
    """The management URL as given: without the login it borrowed from the broker URL."""
    parts, login = urlsplit(management), urlsplit(broker)
    if parts.username is None or "@" not in login.netloc:
        return management
    borrowed = login.netloc.rsplit("@", 1)[0]
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if userinfo != borrowed:
        return management
    return urlunsplit(parts._replace(netloc=hostport))


def _heroku_rejected(exc: HerokuError, doing: str) -> CredentialsRejected:
    if isinstance(exc, HerokuAuthError | HerokuPaymentRequired):
        why = f"Heroku refused the token ({exc.status} {exc.id}: {exc.message})"
    else:
        why = f"Heroku answered {exc.status} {exc.id}: {exc.message}; try again"
    return CredentialsRejected(f"{doing}: {why}", where=TOKEN_FIELD)


def find_broker(platform: HerokuPlatform, token: str, app_id: str) -> tuple[str, str] | None:
    """(config var name, AMQP URL) of the first broker var set on the app, or None."""
    config = platform.get_config_vars(token, app_id)
    for name in BROKER_VARS:
        if value := (config.get(name) or "").strip():
            return name, value
    return None


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

    heroku_uuid, current = await tx(read)
    credentials, queues = await checker.check(heroku_uuid, current, change)
    await tx(lambda session: save_credentials(session, vault, resource_id, credentials))
    return summarise(credentials, queues)


async def current_credentials(
    tx: RunInTransaction, vault: Vault, resource_id: str
) -> CredentialsSummary:
    return summarise(await tx(lambda session: load_credentials(session, vault, resource_id)))


# -- the worker: CloudAMQP rotates passwords ---------------------------------


def refresh_broker_url(
    platform: HerokuPlatform, credentials: TenantCredentials, *, allow_private: bool
) -> TenantCredentials | None:
    """After connecting to the broker failed: re-read the app's config vars.

    Returns the credentials with the new AMQP URL (and a re-derived management
    URL) when it changed, else None: a given URL, no token or app, or the same
    URL. Raises HerokuError from the read and BrokerRefused for an unsafe URL.
    Synchronous (one Heroku call); save the result with `save_credentials`.
    """
    if credentials.broker_source in (None, GIVEN):
        return None
    if credentials.heroku_token is None or credentials.app_id is None:
        return None
    found = find_broker(platform, credentials.heroku_token, credentials.app_id)
    if found is None or found[1] == credentials.broker_url:
        return None
    source, url = found
    check_broker_url(url, allow_private=allow_private)
    given = _stored_management(credentials) if credentials.management_source == GIVEN else None
    management, management_source = _management(url, given)
    return replace(
        credentials,
        broker_url=url,
        broker_source=source,
        management_url=management,
        management_source=management_source,
    )
