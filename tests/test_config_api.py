"""The config API over HTTP: real database, the fake Heroku over HTTP, the real RabbitMQ."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import Vault
from guvscale.db.models import Credentials, Resource, ResourceState, RulesVersion
from guvscale.db.scoping import unscoped
from guvscale.services.credentials import load_credentials
from guvscale.web.app import create_app
from tests.factories import Tenant, add_tenant
from tests.fake_heroku.fixtures import FakeHeroku
from tests.fake_heroku.state import FakeApp
from tests.rabbitmq_fixtures import amqp_url
from tests.web_fixtures import TEST_KEY, make_settings

RULES = """\
# one role, as the README shows it
emailsender:          # dyno process type to scale
  queue: "send-email" # RabbitMQ queue
  deadline: 180
  minimum: 0
  maximum: 5
  concurrency: 10
  processing: 0.300
"""


@dataclass
class World:
    client: TestClient
    sessions: sessionmaker[Session]
    fake: FakeHeroku
    tenant: Tenant
    other: Tenant

    def put_credentials(self, body: dict[str, Any], tenant: Tenant | None = None) -> Any:
        tenant = tenant or self.tenant
        return self.client.put(f"/config/{tenant.id}/credentials", json=body, headers=tenant.auth)

    def stored(self, tenant: Tenant | None = None) -> Credentials | None:
        with self.sessions() as session:
            unscoped(session)
            rid = (tenant or self.tenant).id
            return session.scalar(select(Credentials).where(Credentials.resource_id == rid))


def make_client(
    engine: Engine, database_url: str, fake: FakeHeroku, **settings: object
) -> Iterator[TestClient]:
    config = make_settings(
        database_url=database_url,
        heroku_api_url=fake.api_url,
        heroku_id_url=fake.id_url,
        http_timeout=5.0,
        **settings,
    )
    with TestClient(create_app(config, engine=engine, run_background=False)) as client:
        yield client


@pytest.fixture
def world(
    engine: Engine,
    database_url: str,
    sessions: sessionmaker[Session],
    fake_heroku: FakeHeroku,
) -> Iterator[World]:
    tenant, other = add_tenant(sessions), add_tenant(sessions, app_name="other-app")
    for client in make_client(engine, database_url, fake_heroku):
        yield World(client, sessions, fake_heroku, tenant, other)


@dataclass(frozen=True)
class Owner:
    token: str
    app: FakeApp


def heroku_owner(world: World, vhost: str, **config_vars: str) -> Owner:
    """An app owner whose app carries our add-on and a broker config var."""
    state = world.fake.state
    token = state.add_user_token()
    user = state.tokens[token].user_id
    app = state.add_app("acme-app", {"web": 1, "worker": 0}, owner=user)
    app.config_vars.update(config_vars or {"CLOUDAMQP_URL": amqp_url(vhost)})
    state.add_addon("acme-app", addon_id=world.tenant.heroku_uuid, state="provisioned")
    return Owner(token, app)


def declare(vhost: str, *queues: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url(vhost)))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_declare(queue)
    finally:
        connection.close()


# -- who may call ------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic Z3V2c2NhbGU6eA=="},
        {"Authorization": "Bearer "},
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("POST", "", {"config": RULES}),
        ("GET", "/credentials", None),
        ("PUT", "/credentials", {"brokerUrl": "amqp://x"}),
        ("PUT", "/dry-run", {"dryRun": True}),
    ],
)
def test_a_missing_or_wrong_token_is_401_before_anything_else(
    world: World, headers: dict[str, str], method: str, path: str, body: object
) -> None:
    r = world.client.request(method, f"/config/{world.tenant.id}{path}", json=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["id"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_another_resources_id_with_this_token_is_refused_and_shows_nothing(world: World) -> None:
    other = world.other
    saved = world.client.post(f"/config/{other.id}", json={"config": RULES}, headers=other.auth)
    assert saved.status_code == 200
    mine = world.tenant.auth
    for r in (
        world.client.get(f"/config/{other.id}", headers=mine),
        world.client.post(f"/config/{other.id}", json={"config": "x: {}"}, headers=mine),
        world.client.get(f"/config/{other.id}/credentials", headers=mine),
        world.client.put(f"/config/{other.id}/dry-run", json={"dryRun": True}, headers=mine),
    ):
        assert r.status_code == 401
        assert "emailsender" not in r.text
    # Its rules and flag are untouched, and ours are still empty.
    assert world.client.get(f"/config/{other.id}", headers=other.auth).json()["configYaml"] == RULES
    assert world.client.get(f"/config/{world.tenant.id}", headers=mine).json()["configYaml"] == ""
    with world.sessions() as session:
        assert session.get(Resource, other.id).dry_run is False  # type: ignore[union-attr]


@pytest.mark.parametrize("rid", ["gvs-doesnotexist", "x" * 300, "gvs-%00", "..%2f..%2fetc"])
def test_unknown_or_odd_ids_are_401_like_a_wrong_token(world: World, rid: str) -> None:
    r = world.client.get(f"/config/{rid}", headers=world.tenant.auth)
    assert r.status_code in (401, 404)
    assert r.json()["id"] in ("unauthorized", "not_found")


@pytest.mark.parametrize("state", [ResourceState.deprovisioned, ResourceState.provisioning])
def test_a_resource_not_provisioned_refuses_its_token(
    world: World, sessions: sessionmaker[Session], state: ResourceState
) -> None:
    tenant = add_tenant(sessions, state=state)
    assert world.client.get(f"/config/{tenant.id}", headers=tenant.auth).status_code == 401


# -- rules ----------------------------------------------------------------------------


def test_rules_are_empty_before_any_then_kept_exactly_as_written(world: World) -> None:
    url, auth = f"/config/{world.tenant.id}", world.tenant.auth
    assert world.client.get(url, headers=auth).json() == {"configYaml": "", "version": 0}
    first = world.client.post(url, json={"config": RULES}, headers=auth)
    assert first.status_code == 200
    assert first.json() == {"configYaml": RULES, "version": 1, "warnings": []}
    again = RULES.replace("maximum: 5", "maximum: 7") + "\n\n# trailing comment  \n"
    second = world.client.post(url, json={"config": again}, headers=auth)
    assert second.json()["version"] == 2
    assert world.client.get(url, headers=auth).json() == {"configYaml": again, "version": 2}


def test_a_save_from_an_older_version_is_409_and_nothing_saved(world: World) -> None:
    # Two editors both started from version 1: the second's save silently
    # undid the first's. With baseVersion it is refused; without, saved over.
    url, auth = f"/config/{world.tenant.id}", world.tenant.auth
    assert world.client.post(url, json={"config": RULES, "baseVersion": 0}, headers=auth).is_success
    base = world.client.get(url, headers=auth).json()["version"]
    mine = RULES.replace("maximum: 5", "maximum: 9")
    theirs = RULES.replace("deadline: 180", "deadline: 120")
    ok = world.client.post(url, json={"config": mine, "baseVersion": base}, headers=auth)
    assert ok.json()["version"] == 2
    late = world.client.post(url, json={"config": theirs, "baseVersion": base}, headers=auth)
    assert late.status_code == 409
    assert late.json()["id"] == "rules_changed" and late.json()["where"] == "baseVersion"
    assert "version 2 was saved since version 1" in late.json()["message"]
    assert world.client.get(url, headers=auth).json() == {"configYaml": mine, "version": 2}
    forced = world.client.post(url, json={"config": theirs}, headers=auth)
    assert forced.json()["version"] == 3


def test_invalid_rules_are_422_with_every_problem_and_nothing_saved(world: World) -> None:
    url, auth = f"/config/{world.tenant.id}", world.tenant.auth
    world.client.post(url, json={"config": RULES}, headers=auth)
    bad = RULES.replace("deadline: 180", "deadline: soon").replace("maximum: 5", "maximum: -1")
    r = world.client.post(url, json={"config": bad}, headers=auth)
    assert r.status_code == 422
    body = r.json()
    assert body["id"] == "invalid_rules" and body["message"]
    assert {(e["role"], e["key"], e["line"]) for e in body["errors"]} >= {
        ("emailsender", "deadline", 4),
        ("emailsender", "maximum", 6),
    }
    assert all(set(e) == {"role", "key", "line", "message"} for e in body["errors"])
    assert world.client.get(url, headers=auth).json()["configYaml"] == RULES
    with world.sessions() as session:
        unscoped(session)
        versions = session.scalars(select(RulesVersion.version)).all()
        assert versions == [1]


def test_rules_written_by_a_json_writer_with_escaped_pairs_are_read_or_422(
    world: World,
) -> None:
    # json.dumps escapes an emoji as a pair of \\u escapes: read as the
    # character, not as two halves no encoder takes (a 500, and a role named
    # so stored before the answer failed, after which every page was a 500).
    url, auth = f"/config/{world.tenant.id}", world.tenant.auth
    world.client.post(url, json={"config": RULES}, headers=auth)
    role_named = '{"\\ud83d\\udce7": {"queue": "q"}}'
    half = '{"mails": {"queue": "mails-\\ud83d"}}'
    for doc in (role_named, half):
        r = world.client.post(url, json={"config": doc}, headers=auth)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["line"] == 1
    with world.sessions() as session:
        unscoped(session)
        assert session.scalars(select(RulesVersion.version)).all() == [1]


@pytest.mark.parametrize(
    ("content", "status"),
    [('{"yaml": "x"}', 422), ('{"config": 5}', 422), ("not json", 400), ("[]", 422)],
)
def test_a_body_that_is_not_a_config_is_refused(world: World, content: str, status: int) -> None:
    r = world.client.post(
        f"/config/{world.tenant.id}",
        content=content,
        headers={**world.tenant.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == status
    assert r.json()["id"] in ("invalid_params", "bad_request")


# -- dry run --------------------------------------------------------------------------


def test_dry_run_is_set_and_cleared(world: World) -> None:
    url, auth = f"/config/{world.tenant.id}/dry-run", world.tenant.auth
    assert world.client.put(url, json={"dryRun": True}, headers=auth).json() == {"dryRun": True}
    with world.sessions() as session:
        assert session.get(Resource, world.tenant.id).dry_run is True  # type: ignore[union-attr]
    assert world.client.put(url, json={"dryRun": False}, headers=auth).json() == {"dryRun": False}
    for bad in ({"dryRun": "yes"}, {"dryRun": 1}, {}):
        assert world.client.put(url, json=bad, headers=auth).status_code == 422


# -- credentials ------------------------------------------------------------------------


def test_a_token_finds_the_app_and_its_broker_and_reads_the_queues(
    world: World, vhost: str
) -> None:
    owner = heroku_owner(world, vhost)
    declare(vhost, "send-email", "other")
    r = world.put_credentials({"herokuToken": owner.token})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["herokuToken"] == "****" + owner.token[-4:]
    assert body["app"] == {"id": owner.app.id, "name": "acme-app"}
    assert body["brokerSource"] == "CLOUDAMQP_URL"
    assert body["brokerUrl"] == amqp_url(vhost, password="****")
    assert body["managementUrl"] == "http://guest:****@127.0.0.1:15672"
    assert body["managementSource"] == "derived"
    assert body["queues"] == ["other", "send-email"]
    assert owner.token not in r.text and ":guest@" not in r.text

    # Heroku was asked with the owner's token, and the config vars by the app's id.
    paths = [q.path for q in world.fake.state.requests]
    heroku_uuid = world.tenant.heroku_uuid
    assert paths == ["/account", f"/addons/{heroku_uuid}", f"/apps/{owner.app.id}/config-vars"]

    row = world.stored()
    assert row is not None and row.heroku_token_enc is not None
    assert owner.token.encode() not in row.heroku_token_enc
    assert (row.heroku_app_id, row.heroku_app_name) == (owner.app.id, "acme-app")
    with world.sessions() as session:
        unscoped(session)
        loaded = load_credentials(session, Vault([TEST_KEY]), world.tenant.id)
    assert (loaded.heroku_token, loaded.broker_url) == (owner.token, amqp_url(vhost))
    assert loaded.management_url == "http://guest:guest@127.0.0.1:15672"

    shown = world.client.get(f"/config/{world.tenant.id}/credentials", headers=world.tenant.auth)
    assert shown.json() == {**body, "queues": None}


def test_the_first_broker_var_in_order_wins(world: World, vhost: str) -> None:
    owner = heroku_owner(
        world, vhost, AMQP_URL="amqp://nobody@nowhere.invalid/x", RABBITMQ_URL=amqp_url(vhost)
    )
    r = world.put_credentials({"herokuToken": owner.token})
    assert r.status_code == 200, r.text
    assert r.json()["brokerSource"] == "RABBITMQ_URL"


def test_a_given_broker_and_management_url_need_no_token(world: World, vhost: str) -> None:
    r = world.put_credentials(
        {"brokerUrl": amqp_url(vhost), "managementUrl": "http://127.0.0.1:15672/"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["brokerSource"], body["managementSource"]) == ("given", "given")
    assert body["herokuToken"] is None and body["app"] is None
    # The given management URL had no login, so it borrows the broker's.
    assert body["managementUrl"] == "http://guest:****@127.0.0.1:15672/"
    assert world.fake.state.requests == []


def test_a_token_later_keeps_the_given_broker(world: World, vhost: str) -> None:
    owner = heroku_owner(world, vhost, CLOUDAMQP_URL="amqp://u:p@nowhere.invalid/x")
    assert world.put_credentials({"brokerUrl": amqp_url(vhost)}).status_code == 200
    r = world.put_credentials({"herokuToken": owner.token})
    assert r.status_code == 200, r.text
    assert r.json()["brokerSource"] == "given"
    # "" forgets the given URL: the app's config var is read again (and here it is broken).
    r = world.put_credentials({"brokerUrl": ""})
    assert r.status_code == 422
    assert r.json()["where"] == "brokerUrl"


def refused(world: World, body: dict[str, Any], where: str, *words: str) -> dict[str, Any]:
    before = world.stored()
    snapshot = None if before is None else (before.heroku_token_enc, before.rabbitmq_url_enc)
    r = world.put_credentials(body)
    assert r.status_code == 422, r.text
    answer: dict[str, Any] = r.json()
    assert answer["id"] == "invalid_credentials"
    assert answer["where"] == where
    for word in words:
        assert word in answer["message"]
    after = world.stored()
    assert (None if after is None else (after.heroku_token_enc, after.rabbitmq_url_enc)) == snapshot
    return answer


def test_a_token_heroku_refuses_is_422_and_nothing_saved(world: World, vhost: str) -> None:
    heroku_owner(world, vhost)
    answer = refused(world, {"herokuToken": "not-a-real-token-1234"}, "herokuToken", "401")
    assert "not-a-real-token" not in answer["message"]


def test_a_token_that_cannot_see_the_add_on_is_422(world: World, vhost: str) -> None:
    heroku_owner(world, vhost)
    stranger = world.fake.state.add_user_token()
    refused(world, {"herokuToken": stranger}, "herokuToken", "cannot see")


def test_an_app_without_a_broker_var_is_422(world: World, vhost: str) -> None:
    owner = heroku_owner(world, vhost, UNRELATED="1")
    refused(world, {"herokuToken": owner.token}, "brokerUrl", "CLOUDAMQP_URL", "brokerUrl")


def test_a_wrong_broker_password_is_422_and_never_echoed_or_logged(
    world: World, vhost: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = amqp_url(vhost, password="Wr0ng-pa55word")
    answer = refused(world, {"brokerUrl": wrong}, "brokerUrl", "management API", "password")
    assert "Wr0ng-pa55word" not in answer["message"]
    assert caplog.records and "Wr0ng-pa55word" not in caplog.text


@pytest.mark.parametrize(("status", "error_id"), [(503, None), (429, "rate_limit")])
def test_heroku_failing_is_422_saying_to_try_again(
    world: World, vhost: str, status: int, error_id: str | None
) -> None:
    owner = heroku_owner(world, vhost)
    world.fake.state.fail_next(1, status, error_id=error_id, path="/addons/")
    refused(world, {"herokuToken": owner.token}, "herokuToken", "finding the app", "try again")
    # Once Heroku answers again, the same request goes through.
    assert world.put_credentials({"herokuToken": owner.token}).status_code == 200


def test_an_unreachable_management_api_is_422(world: World, vhost: str) -> None:
    body = {"brokerUrl": amqp_url(vhost), "managementUrl": "http://127.0.0.1:9/"}
    refused(world, body, "managementUrl", "management API", "127.0.0.1:9")


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"brokerUrl": "redis://u:p@h/0"}, "brokerUrl"),
        ({"brokerUrl": "https://u:p@h/"}, "brokerUrl"),
        (
            {"brokerUrl": "amqp://guest:guest@127.0.0.1/", "managementUrl": "ftp://h"},
            "managementUrl",
        ),
    ],
)
def test_urls_of_the_wrong_kind_are_422(world: World, body: dict[str, Any], where: str) -> None:
    refused(world, body, where, "must start with")


def test_nothing_to_change_and_empty_tokens_are_422(world: World) -> None:
    assert world.put_credentials({}).status_code == 422
    assert world.put_credentials({"herokuToken": ""}).status_code == 422
    assert world.put_credentials({"brokerUrl": None}).status_code == 422  # no broker anywhere
    assert world.stored() is None


def test_a_private_broker_is_refused_when_private_brokers_are_not_allowed(
    engine: Engine, database_url: str, sessions: sessionmaker[Session], fake_heroku: FakeHeroku
) -> None:
    tenant = add_tenant(sessions)
    for client in make_client(engine, database_url, fake_heroku, allow_private_brokers=False):
        r = client.put(
            f"/config/{tenant.id}/credentials",
            json={"brokerUrl": "amqp://guest:guest@127.0.0.1:5672/"},
            headers=tenant.auth,
        )
        assert r.status_code == 422
        assert r.json()["where"] == "brokerUrl"
        assert "private, loopback or link-local" in r.json()["message"]


def test_credentials_of_another_tenant_cannot_be_set(world: World, vhost: str) -> None:
    r = world.client.put(
        f"/config/{world.other.id}/credentials",
        json={"brokerUrl": amqp_url(vhost)},
        headers=world.tenant.auth,
    )
    assert r.status_code == 401
    assert world.stored(world.other) is None and world.stored() is None


# -- the schema -------------------------------------------------------------------------


def test_openapi_shows_every_answer_and_the_bearer_scheme(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/config/{id}", "get"),
        ("/config/{id}", "post"),
        ("/config/{id}/credentials", "put"),
        ("/config/{id}/dry-run", "put"),
    ]:
        operation = paths[path][method]
        assert {"200", "401", "422"} <= set(operation["responses"]), (path, method)
        assert operation["security"] == [{"HTTPBearer": []}]
    post_422 = paths["/config/{id}"]["post"]["responses"]["422"]["content"]["application/json"]
    refs = {choice["$ref"].rsplit("/", 1)[1] for choice in post_422["schema"]["anyOf"]}
    assert refs == {"InvalidRulesOut", "ErrorBody"}
    schemas = spec["components"]["schemas"]
    assert {"configYaml", "version", "warnings"} <= set(schemas["SavedConfigOut"]["properties"])
    assert "brokerSource" in schemas["CredentialsOut"]["properties"]
