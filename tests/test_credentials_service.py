"""The credentials service below HTTP: storage, masking, and re-reading a rotated broker URL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.clock import utcnow
from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.models import Credentials
from guvscale.db.scoping import scope_to, unscoped
from guvscale.errors import NotFound
from guvscale.heroku import HerokuAuthError, HerokuPlatform
from guvscale.rabbitmq import BrokerRefused
from guvscale.services.credentials import (
    DERIVED,
    GIVEN,
    NO_CREDENTIALS,
    TenantCredentials,
    load_credentials,
    load_many_credentials,
    mask_token,
    refresh_broker_url,
    save_credentials,
    summarise,
)
from guvscale.services.credentials_check import CredentialsChange, update_credentials
from guvscale.services.provisioning import deprovision
from guvscale.settings import Settings
from tests.factories import add_tenant
from tests.fake_heroku.fixtures import FakeHeroku
from tests.web_fixtures import TEST_KEY

VAULT = Vault([TEST_KEY])
T = TypeVar("T")
OLD = "amqps://user:old-pass-1@broker.example/user"
NEW = "amqps://user:new-pass-2@broker.example/user"


def creds(**overrides: object) -> TenantCredentials:
    values: dict[str, object] = {
        "heroku_token": "tok-0123456789abcdef",
        "app_id": "app-id-1",
        "app_name": "acme-app",
        "broker_url": OLD,
        "management_url": "https://user:old-pass-1@broker.example",
        "broker_source": "CLOUDAMQP_URL",
        "management_source": DERIVED,
    }
    values.update(overrides)
    return TenantCredentials(**values)  # type: ignore[arg-type]


@pytest.fixture
def platform(fake_heroku: FakeHeroku) -> Iterator[HerokuPlatform]:
    with httpx.Client() as http:
        yield HerokuPlatform(http, fake_heroku.api_url, "guvscale-test", timeout=5)


def rotated_app(fake_heroku: FakeHeroku, url: str) -> tuple[str, str]:
    token = fake_heroku.state.add_user_token()
    app = fake_heroku.state.add_app("acme-app", {"worker": 1})
    app.config_vars["CLOUDAMQP_URL"] = url
    return token, app.id


def test_nothing_stored_reads_as_no_credentials(sessions: sessionmaker[Session]) -> None:
    tenant = add_tenant(sessions)
    with sessions() as session:
        assert load_credentials(scope_to(session, tenant.id), VAULT, tenant.id) == NO_CREDENTIALS


def test_saved_credentials_load_back_and_secrets_are_sealed(
    sessions: sessionmaker[Session],
) -> None:
    tenant = add_tenant(sessions)
    given = creds(management_url="https://admin:mgmt-pw-3@mgmt.example", management_source=GIVEN)
    with sessions() as session:
        save_credentials(scope_to(session, tenant.id), VAULT, tenant.id, given)
        session.commit()
    with sessions() as session:
        assert load_credentials(scope_to(session, tenant.id), VAULT, tenant.id) == given
    # Another tenant's scope sees none of it.
    other = add_tenant(sessions)
    with sessions() as session:
        assert load_credentials(scope_to(session, other.id), VAULT, tenant.id) == NO_CREDENTIALS


def test_many_tenants_load_in_one_go_and_a_sealed_row_fails_alone(
    sessions: sessionmaker[Session],
) -> None:
    first, second, empty = add_tenant(sessions), add_tenant(sessions), add_tenant(sessions)
    lost_key = Vault([Fernet.generate_key().decode()])
    with sessions() as session:
        unscoped(session)
        save_credentials(session, VAULT, first.id, creds())
        save_credentials(session, lost_key, second.id, creds())
        session.commit()
        found = load_many_credentials(session, VAULT, [first.id, second.id, empty.id])
    assert found[first.id] == creds()
    assert isinstance(found[second.id], DecryptionError)
    assert empty.id not in found


def test_a_management_url_that_borrowed_the_brokers_login_is_stored_without_it(
    sessions: sessionmaker[Session],
) -> None:
    tenant = add_tenant(sessions)
    borrowed = creds(
        management_url="https://user:old-pass-1@mgmt.example/prefix", management_source=GIVEN
    )
    with sessions() as session:
        save_credentials(scope_to(session, tenant.id), VAULT, tenant.id, borrowed)
        session.commit()
        row = session.scalar(select(Credentials).where(Credentials.resource_id == tenant.id))
        assert row is not None and row.management_url_enc is not None
        # So the next broker password reaches it too.
        assert VAULT.decrypt(row.management_url_enc) == "https://mgmt.example/prefix"
    with sessions() as session:
        save_credentials(scope_to(session, tenant.id), VAULT, tenant.id, creds(broker_url=NEW))
        session.commit()
        loaded = load_credentials(scope_to(session, tenant.id), VAULT, tenant.id)
        assert loaded.management_url == "https://user:new-pass-2@broker.example"


def test_refresh_finds_a_rotated_password_and_rederives_the_management_url(
    fake_heroku: FakeHeroku, platform: HerokuPlatform
) -> None:
    token, app_id = rotated_app(fake_heroku, NEW)
    # No DNS for example hosts here: the address check has its own tests.
    found = refresh_broker_url(
        platform, creds(heroku_token=token, app_id=app_id), allow_private=True
    )
    assert found is not None
    assert (found.broker_url, found.broker_source) == (NEW, "CLOUDAMQP_URL")
    assert found.management_url == "https://user:new-pass-2@broker.example"
    assert found.heroku_token == token


def test_refresh_keeps_a_given_management_url_but_gives_it_the_new_login(
    fake_heroku: FakeHeroku, platform: HerokuPlatform
) -> None:
    token, app_id = rotated_app(fake_heroku, NEW)
    current = creds(
        heroku_token=token,
        app_id=app_id,
        management_url="https://user:old-pass-1@mgmt.example",
        management_source=GIVEN,
    )
    found = refresh_broker_url(platform, current, allow_private=True)
    assert found is not None
    assert found.management_url == "https://user:new-pass-2@mgmt.example"
    assert found.management_source == GIVEN


def test_refresh_is_none_when_nothing_changed_or_nothing_to_read(
    fake_heroku: FakeHeroku, platform: HerokuPlatform
) -> None:
    token, app_id = rotated_app(fake_heroku, OLD)
    assert (
        refresh_broker_url(platform, creds(heroku_token=token, app_id=app_id), allow_private=False)
        is None
    )
    assert refresh_broker_url(platform, creds(broker_source=GIVEN), allow_private=False) is None
    assert refresh_broker_url(platform, creds(heroku_token=None), allow_private=False) is None
    assert len(fake_heroku.state.requests) == 1  # only the first one asked Heroku


@pytest.mark.parametrize("url", ["amqp://u:p@127.0.0.1/vh", "https://u:p@8.8.8.8/"])
def test_refresh_refuses_a_rotated_url_that_points_inside_or_is_no_amqp(
    fake_heroku: FakeHeroku, platform: HerokuPlatform, url: str
) -> None:
    token, app_id = rotated_app(fake_heroku, url)
    with pytest.raises(BrokerRefused):
        refresh_broker_url(platform, creds(heroku_token=token, app_id=app_id), allow_private=False)


def test_refresh_with_a_revoked_token_raises_for_the_worker_to_record(
    fake_heroku: FakeHeroku, platform: HerokuPlatform
) -> None:
    token, app_id = rotated_app(fake_heroku, NEW)
    fake_heroku.state.revoke(token)
    with pytest.raises(HerokuAuthError):
        refresh_broker_url(platform, creds(heroku_token=token, app_id=app_id), allow_private=False)


@pytest.mark.parametrize(
    ("token", "shown"),
    [(None, None), ("short", "****"), ("a-much-longer-token-9f3e", "****9f3e")],
)
def test_tokens_show_only_their_last_four_characters(token: str | None, shown: str | None) -> None:
    assert mask_token(token) == shown


def test_a_summary_holds_no_secret() -> None:
    summary = summarise(creds(management_source=GIVEN))
    text = repr(summary)
    assert "old-pass-1" not in text and "tok-0123456789abcdef" not in text
    assert summary.broker_url == "amqps://user:****@broker.example/user"


@pytest.mark.parametrize(
    ("env", "allow", "expected"),
    [("development", None, True), ("production", None, False), ("production", True, True)],
)
def test_private_brokers_are_allowed_in_development_only_unless_set(
    env: str, allow: bool | None, expected: bool
) -> None:
    settings = Settings(guvscale_env=env, allow_private_brokers=allow)  # type: ignore[arg-type]
    assert settings.private_brokers_allowed is expected


class DeprovisionedWhileChecking:
    """A checker during whose network calls Heroku deprovisions the add-on."""

    def __init__(self, sessions: sessionmaker[Session], resource_id: str) -> None:
        self.sessions, self.resource_id = sessions, resource_id

    async def check(
        self, heroku_uuid: str, current: TenantCredentials, change: CredentialsChange
    ) -> tuple[TenantCredentials, list[str]]:
        with self.sessions.begin() as session:
            deprovision(session, self.resource_id, now=utcnow())
        return creds(), ["send-email"]


def test_credentials_checked_while_the_add_on_goes_are_not_kept(
    sessions: sessionmaker[Session],
) -> None:
    # The check spends seconds on Heroku and the broker between two
    # transactions; a deprovision landing then deleted the row, and the save
    # made a new one: the owner's token and broker password kept for good.
    tenant = add_tenant(sessions)

    async def tx(work: Callable[[Session], T]) -> T:
        with sessions.begin() as session:
            return work(scope_to(session, tenant.id))

    checker = DeprovisionedWhileChecking(sessions, tenant.id)
    with pytest.raises(NotFound, match="deprovisioned while its credentials were checked"):
        asyncio.run(
            update_credentials(tx, VAULT, checker, tenant.id, CredentialsChange())  # type: ignore[arg-type]
        )
    with sessions() as session:
        unscoped(session)
        assert session.scalars(select(Credentials)).all() == []
