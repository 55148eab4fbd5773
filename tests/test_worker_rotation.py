"""The worker's credentials: read through the credentials service, and the broker URL
re-read from the app's config vars when the broker refuses it (CloudAMQP rotates
passwords). Real RabbitMQ (a user of our own whose password we change), real
PostgreSQL, the fake Heroku over HTTP."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from guvscale.db.crypto import Vault
from guvscale.db.scoping import unscoped
from guvscale.services import credentials as credentials_service
from guvscale.worker import store
from tests import factories
from tests.rabbitmq_fixtures import MANAGEMENT, Broker

ADMIN = ("guest", "guest")


class RabbitUser:
    """A RabbitMQ user on the default vhost whose password the test rotates."""

    def __init__(self) -> None:
        self.name = f"gvs-rot-{secrets.token_hex(4)}"
        self.set_password(secrets.token_hex(8))
        httpx.put(
            f"{MANAGEMENT}/api/permissions/%2F/{self.name}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=ADMIN,
        ).raise_for_status()

    def set_password(self, password: str) -> None:
        self.password = password
        httpx.put(
            f"{MANAGEMENT}/api/users/{self.name}",
            json={"password": password, "tags": "monitoring"},
            auth=ADMIN,
        ).raise_for_status()

    @property
    def url(self) -> str:
        return f"amqp://{self.name}:{self.password}@127.0.0.1:5672/%2F"

    def delete(self) -> None:
        httpx.delete(f"{MANAGEMENT}/api/users/{self.name}", auth=ADMIN)


@pytest.fixture
def rabbit_user() -> Iterator[RabbitUser]:
    user = RabbitUser()
    yield user
    user.delete()


def config_var_reads(world: factories.WorkerWorld) -> int:
    return len([r for r in world.fake.state.requests_to("GET") if r.path.endswith("/config-vars")])


def stored_broker_url(world: factories.WorkerWorld, rid: str) -> str | None:
    with world.sessions() as s:
        unscoped(s)
        return credentials_service.load_credentials(s, world.vault, rid).broker_url


def test_a_rotated_broker_password_is_re_read_from_the_config_vars_and_saved(
    world: factories.WorkerWorld, broker: Broker, rabbit_user: RabbitUser
) -> None:
    queue = broker.queue(messages=5)
    broker.wait_visible(queue, 5)
    app = world.fake.state.add_app("acme-app", {"worker": 1})
    app.config_vars["CLOUDAMQP_URL"] = rabbit_user.url
    with world.sessions() as s:
        t = factories.tenant(
            s,
            world.vault,
            rules=factories.role_rules(queue, minimum=1),
            token=world.fake.state.add_user_token(),
            broker_url=rabbit_user.url,
            broker_source="CLOUDAMQP_URL",
            app_id=app.id,
        )
    world.rounds()
    assert world.state(t.id).status["roles"][0]["ready"] == 5
    assert config_var_reads(world) == 0  # nothing failed: nothing re-read

    # CloudAMQP rotates the password and updates the app's config var.
    rabbit_user.set_password(secrets.token_hex(8))
    app.config_vars["CLOUDAMQP_URL"] = rabbit_user.url
    world.rounds(later=30)

    st = world.state(t.id)
    assert st.status["error"] is None, st.status
    assert st.status["roles"][0]["ready"] == 5 and st.status["roles"][0]["error"] is None
    assert stored_broker_url(world, t.id) == rabbit_user.url
    assert config_var_reads(world) == 1

    # Rotated again within minutes of that look: the error shows, the config vars
    # are not read again on every tick (at most once per REFRESH_EVERY).
    rabbit_user.set_password(secrets.token_hex(8))
    world.rounds(count=3, later=60)
    st = world.state(t.id)
    assert "refused the user and password" in st.status["error"]
    assert config_var_reads(world) == 1
    assert stored_broker_url(world, t.id) != rabbit_user.url


def test_a_given_broker_url_is_never_re_read(
    world: factories.WorkerWorld, broker: Broker, rabbit_user: RabbitUser
) -> None:
    queue = broker.queue()
    app = world.fake.state.add_app("acme-app", {"worker": 1})
    rabbit_user.set_password("old-" + secrets.token_hex(4))
    stale = rabbit_user.url
    rabbit_user.set_password("new-" + secrets.token_hex(4))
    app.config_vars["CLOUDAMQP_URL"] = rabbit_user.url
    with world.sessions() as s:
        t = factories.tenant(
            s,
            world.vault,
            rules=factories.role_rules(queue),
            token=world.fake.state.add_user_token(),
            broker_url=stale,
            broker_source="given",
            app_id=app.id,
        )

    world.rounds()

    assert "refused" in world.state(t.id).status["error"]
    assert config_var_reads(world) == 0 and stored_broker_url(world, t.id) == stale


def test_credentials_come_from_the_service_and_an_unreadable_row_fails_alone(
    world: factories.WorkerWorld, broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = broker.queue()
    calls: list[Any] = []
    real = credentials_service.load_many_credentials

    def spy(*args: Any, **kw: Any) -> Any:
        calls.append(args)
        return real(*args, **kw)

    monkeypatch.setattr(store, "load_many_credentials", spy)
    good = world.tenant(factories.role_rules(queue, minimum=2), {"worker": 0})
    bad = world.tenant(factories.role_rules(queue, minimum=2), {"worker": 0}, app="locked-app")
    other_key = Vault([Fernet.generate_key().decode()])
    with world.sessions.begin() as s:
        unscoped(s)
        s.execute(
            credentials_service.Credentials.__table__.update()
            .where(credentials_service.Credentials.resource_id == bad.id)
            .values(heroku_token_enc=other_key.encrypt("someone else's"))
        )

    world.rounds()

    assert len(calls) == 1  # one query for the round's tenants
    assert world.state(bad.id).status["error"]
    assert world.state(good.id).status["error"] is None
    assert world.quantity("worker") == 2 and world.quantity("worker", "locked-app") == 0
