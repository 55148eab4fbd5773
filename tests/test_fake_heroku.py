"""The adapters against the fake Heroku over real HTTP, and the fake's refusals."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guvscale.heroku import (
    HerokuAuthError,
    HerokuIdentity,
    HerokuNotFound,
    HerokuPaymentRequired,
    HerokuPlatform,
    HerokuRateLimited,
    HerokuRejected,
    HerokuUnavailable,
)
from tests.fake_heroku.__main__ import parse_formation
from tests.fake_heroku.fixtures import FakeHeroku
from tests.fake_heroku.state import ACCESS_TOKEN_LIFETIME, CLIENT_SECRET, GRANT_LIFETIME
from tests.live_server import free_port

V3 = "application/vnd.heroku+json; version=3"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


@pytest.fixture
def platform(fake_heroku: FakeHeroku, http: httpx.Client) -> HerokuPlatform:
    return HerokuPlatform(http, fake_heroku.api_url, "guvscale-test", timeout=5.0)


@pytest.fixture
def identity(fake_heroku: FakeHeroku, http: httpx.Client) -> HerokuIdentity:
    return HerokuIdentity(http, fake_heroku.id_url, CLIENT_SECRET, timeout=5.0)


@pytest.fixture
def owner(fake_heroku: FakeHeroku) -> str:
    """An app owner's token and their app acme-app: web=1, worker=2, urgent=0 (Eco)."""
    state = fake_heroku.state
    token = state.add_user_token()
    state.add_app(
        "acme-app",
        {"web": 1, "worker": 2, "urgent": (0, "Eco")},
        owner=state.account_of(token).user_id,
    )
    return token


def quantities(fake: FakeHeroku, app: str = "acme-app") -> dict[str, int]:
    return fake.state.apps[app].quantities()


def raw(fake: FakeHeroku, method: str, path: str, token: str, **kwargs: object) -> httpx.Response:
    headers = {"Accept": V3, "Authorization": f"Bearer {token}"}
    headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
    return httpx.request(method, fake.url + path, headers=headers, timeout=5.0, **kwargs)  # type: ignore[arg-type]


def wait_until_answered(fake: FakeHeroku, count: int) -> None:
    """Wait (not measure) until `count` requests have been answered by the fake."""
    deadline = time.monotonic() + 10
    while sum(r.status is not None for r in fake.state.requests) < count:
        assert time.monotonic() < deadline, "the fake never answered"
        time.sleep(0.01)


# -- formation --------------------------------------------------------------


def test_list_formation_reads_the_fake_app(fake_heroku, platform, owner):
    found = {f.type: f for f in platform.list_formation(owner, "acme-app")}
    assert {t: f.quantity for t, f in found.items()} == {"web": 1, "worker": 2, "urgent": 0}
    assert found["urgent"].size == "Eco"
    assert found["worker"].app_name == "acme-app"
    sent = fake_heroku.state.requests_to("GET", "/apps/acme-app/formation")[0]
    assert sent.headers["accept"] == V3
    assert sent.headers["authorization"] == f"Bearer {owner}"
    assert sent.headers["user-agent"] == "guvscale-test"


def test_app_can_be_named_by_id(fake_heroku, platform, owner):
    app_id = fake_heroku.state.apps["acme-app"].id
    assert len(platform.list_formation(owner, app_id)) == 3


def test_scale_changes_only_the_given_types_in_one_call(fake_heroku, platform, owner):
    result = platform.scale(owner, "acme-app", {"worker": 5, "urgent": 1})
    assert sorted((f.type, f.quantity) for f in result) == [("urgent", 1), ("worker", 5)]
    assert quantities(fake_heroku) == {"web": 1, "worker": 5, "urgent": 1}
    patches = fake_heroku.state.requests_to("PATCH", "/apps/acme-app/formation")
    assert len(patches) == 1


def test_scale_one(fake_heroku, platform, owner):
    assert platform.scale_one(owner, "acme-app", "worker", 0).quantity == 0
    assert quantities(fake_heroku)["worker"] == 0


def test_each_call_costs_a_token_and_the_adapter_sees_what_is_left(fake_heroku, platform, owner):
    fake_heroku.state.set_rate_limit(10)
    platform.list_formation(owner, "acme-app")
    platform.scale(owner, "acme-app", {"worker": 3})
    assert platform.last_rate_limit_remaining == 8
    # The rate-limit endpoint is free.
    assert platform.rate_limit_remaining(owner) == 8
    assert fake_heroku.state.account_of(owner).rate_remaining == 8
    # The adapter remembers the request id the fake sent.
    assert platform.last_request_id == fake_heroku.state.requests[-1].request_id


def test_exhausted_rate_limit_is_429(fake_heroku, platform, owner):
    fake_heroku.state.set_rate_limit(1)
    platform.list_formation(owner, "acme-app")
    with pytest.raises(HerokuRateLimited) as caught:
        platform.scale(owner, "acme-app", {"worker": 3})
    assert (caught.value.status, caught.value.id) == (429, "rate_limit")
    assert platform.last_rate_limit_remaining == 0
    assert quantities(fake_heroku)["worker"] == 2
    assert platform.rate_limit_remaining(owner) == 0


def test_unknown_app_and_process_type_are_404(fake_heroku, platform, owner):
    with pytest.raises(HerokuNotFound):
        platform.list_formation(owner, "no-such-app")
    with pytest.raises(HerokuNotFound, match="process type"):
        platform.scale_one(owner, "acme-app", "nope", 1)
    # A batch is all or nothing: the known type is not scaled either.
    with pytest.raises(HerokuNotFound):
        platform.scale(owner, "acme-app", {"worker": 7, "nope": 1})
    assert quantities(fake_heroku)["worker"] == 2


def test_eco_dynos_cannot_run_above_one(fake_heroku, platform, owner):
    with pytest.raises(HerokuRejected) as caught:
        platform.scale(owner, "acme-app", {"urgent": 2, "worker": 3})
    assert (caught.value.status, caught.value.id, caught.value.limit) == (
        422,
        "cannot_run_above_limit",
        1,
    )
    assert quantities(fake_heroku) == {"web": 1, "worker": 2, "urgent": 0}


def test_an_apps_own_size_limit_applies(fake_heroku, platform, owner):
    fake_heroku.state.apps["acme-app"].limits["standard-1x"] = 4
    platform.scale_one(owner, "acme-app", "worker", 4)
    with pytest.raises(HerokuRejected) as caught:
        platform.scale_one(owner, "acme-app", "worker", 5)
    assert caught.value.limit == 4


# -- who may call -------------------------------------------------------------


def test_unknown_missing_and_revoked_tokens_are_401(fake_heroku, platform, owner):
    with pytest.raises(HerokuAuthError) as caught:
        platform.list_formation("not-a-token", "acme-app")
    assert (caught.value.status, caught.value.id) == (401, "unauthorized")
    response = httpx.get(fake_heroku.url + "/apps/acme-app/formation", headers={"Accept": V3})
    assert (response.status_code, response.json()["id"]) == (401, "unauthorized")
    fake_heroku.state.revoke(owner)
    with pytest.raises(HerokuAuthError):
        platform.list_formation(owner, "acme-app")


def test_suspended_account_is_403_and_delinquent_402(fake_heroku, platform, owner):
    account = fake_heroku.state.account_of(owner)
    account.delinquent = True
    with pytest.raises(HerokuPaymentRequired) as paying:
        platform.list_formation(owner, "acme-app")
    assert (paying.value.status, paying.value.id) == (402, "delinquent")
    account.suspended = True
    with pytest.raises(HerokuAuthError) as caught:
        platform.list_formation(owner, "acme-app")
    assert (caught.value.status, caught.value.id) == (403, "suspended")


def test_another_users_token_may_not_touch_the_app(fake_heroku, platform, owner):
    stranger = fake_heroku.state.add_user_token()
    with pytest.raises(HerokuAuthError) as caught:
        platform.scale(stranger, "acme-app", {"worker": 0})
    assert (caught.value.status, caught.value.id) == (403, "forbidden")
    assert quantities(fake_heroku)["worker"] == 2


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "application/json",
        "application/vnd.heroku+json",
        "application/vnd.heroku+json; version=2",
    ],
)
def test_a_missing_or_wrong_api_version_is_refused(fake_heroku, owner, accept):
    headers = {"Authorization": f"Bearer {owner}"}
    if accept:
        headers["Accept"] = accept
    response = httpx.get(fake_heroku.url + "/apps/acme-app/formation", headers=headers)
    assert response.status_code == 400
    assert response.json()["id"] == "missing_version"
    assert "Request-Id" in response.headers


def test_version_among_other_media_types_is_accepted(fake_heroku, owner):
    response = raw(
        fake_heroku,
        "GET",
        "/apps/acme-app/formation",
        owner,
        headers={"Accept": "application/json, application/vnd.heroku+json;version=3"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"updates": {"type": "worker", "quantity": 1}},
        {"updates": [{"quantity": 1}]},
        {"updates": [{"type": "worker", "quantity": -1}]},
        {"updates": [{"type": "worker", "quantity": "3"}]},
        {"updates": [{"type": "worker", "quantity": 1.5}]},
        {"updates": [{"type": "worker", "quantity": None}]},
        {"updates": [{"type": "worker", "quantity": True}]},
        {"updates": [{"type": "worker", "quantity": 1, "size": "Eco"}]},
        {"updates": ["worker"]},
        [{"type": "worker", "quantity": 1}],
    ],
)
def test_bad_batch_bodies_are_invalid_params(fake_heroku, owner, body):
    response = raw(fake_heroku, "PATCH", "/apps/acme-app/formation", owner, json=body)
    assert (response.status_code, response.json()["id"]) == (422, "invalid_params")
    assert quantities(fake_heroku)["worker"] == 2


def test_a_body_that_is_not_json_is_400(fake_heroku, owner):
    response = raw(
        fake_heroku,
        "PATCH",
        "/apps/acme-app/formation/worker",
        owner,
        content=b"quantity=3",
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["id"]) == (400, "bad_request")


def test_answers_carry_request_id_and_rate_limit_headers(fake_heroku, owner):
    response = raw(fake_heroku, "GET", "/apps/acme-app/formation", owner)
    assert response.headers["Request-Id"] == fake_heroku.state.requests[-1].request_id
    assert int(response.headers["RateLimit-Remaining"]) == 4499
    error = raw(fake_heroku, "GET", "/apps/acme-app/formation/nope", owner)
    assert error.status_code == 404
    assert error.json() == {"id": "not_found", "message": "Couldn't find that process type (nope)."}
    assert int(error.headers["RateLimit-Remaining"]) == 4498


def test_unknown_routes_are_404_json(fake_heroku, owner):
    response = raw(fake_heroku, "DELETE", "/apps/acme-app", owner)
    assert (response.status_code, response.json()["id"]) == (404, "not_found")


# -- injected failures --------------------------------------------------------


def test_injected_5xx_then_recovery(fake_heroku, platform, owner):
    fake_heroku.state.fail_next(2, 503)
    for _ in range(2):
        with pytest.raises(HerokuUnavailable) as caught:
            platform.list_formation(owner, "acme-app")
        assert caught.value.status == 503
    assert len(platform.list_formation(owner, "acme-app")) == 3


def test_injected_429_says_when_to_retry(fake_heroku, platform, owner):
    fake_heroku.state.fail_next(1, 429, retry_after=3)
    with pytest.raises(HerokuRateLimited) as caught:
        platform.scale(owner, "acme-app", {"worker": 1})
    assert caught.value.retry_after == 3.0
    assert quantities(fake_heroku)["worker"] == 2


def test_failures_can_target_one_route(fake_heroku, platform, identity, owner):
    _, grant = fake_heroku.state.start_provisioning("shop-app")
    fake_heroku.state.fail_next(1, 500, path="/oauth/token")
    assert len(platform.list_formation(owner, "acme-app")) == 3
    with pytest.raises(HerokuUnavailable):
        identity.exchange_grant(grant.code)
    # The failed attempt did not use the grant up.
    assert identity.exchange_grant(grant.code).access_token


def test_a_held_request_times_out_and_changes_nothing(fake_heroku, http, owner):
    quick = HerokuPlatform(http, fake_heroku.url, "guvscale-test", timeout=0.2)
    fake_heroku.state.hang_next(1, seconds=30)
    with pytest.raises(HerokuUnavailable) as caught:
        quick.scale(owner, "acme-app", {"worker": 9})
    assert (caught.value.status, caught.value.id) == (504, "timeout")
    fake_heroku.state.release_held()
    wait_until_answered(fake_heroku, 1)
    assert quantities(fake_heroku)["worker"] == 2


def test_a_held_request_can_take_effect_with_its_answer_lost(fake_heroku, http, owner):
    quick = HerokuPlatform(http, fake_heroku.url, "guvscale-test", timeout=0.2)
    fake_heroku.state.hang_next(1, seconds=30, apply=True)
    with pytest.raises(HerokuUnavailable):
        quick.scale(owner, "acme-app", {"worker": 9})
    fake_heroku.state.release_held()
    wait_until_answered(fake_heroku, 1)
    assert quantities(fake_heroku)["worker"] == 9


def test_connection_refused_is_unavailable(http):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening
        platform = HerokuPlatform(http, f"http://127.0.0.1:{port}", "t", timeout=2.0)
        with pytest.raises(HerokuUnavailable) as caught:
            platform.list_formation("x", "acme-app")
    assert (caught.value.status, caught.value.id) == (502, "connection_error")


# -- finishing async provisioning --------------------------------------------


def test_the_partner_provisioning_flow(fake_heroku, platform, identity):
    addon, grant = fake_heroku.state.start_provisioning("shop-app")
    tokens = identity.exchange_grant(grant.code)
    config = {"GUVSCALE_ID": "g-1", "GUVSCALE_TOKEN": "t-1", "GUVSCALE_URL": "https://g.example"}
    assert platform.set_addon_config(tokens.access_token, addon.id, config) == config
    done = platform.mark_provisioned(tokens.access_token, addon.id)
    assert (done.id, done.state) == (addon.id, "provisioned")
    assert addon.state == "provisioned" and addon.config == config
    assert [(r.method, r.path) for r in fake_heroku.state.requests] == [
        ("POST", "/oauth/token"),
        ("PATCH", f"/addons/{addon.id}/config"),
        ("POST", f"/addons/{addon.id}/actions/provision"),
    ]
    assert fake_heroku.state.requests[0].form["grant_type"] == "authorization_code"
    assert fake_heroku.state.partner_tokens(addon.id) == [tokens.access_token]


def test_repeating_the_finish_is_harmless(fake_heroku, platform, identity):
    addon, grant = fake_heroku.state.start_provisioning("shop-app")
    token = identity.exchange_grant(grant.code).access_token
    for _ in range(2):
        platform.set_addon_config(token, addon.id, {"GUVSCALE_ID": "g-1"})
        assert platform.mark_provisioned(token, addon.id).state == "provisioned"
    assert addon.provision_calls == 2


def test_a_grant_works_once(fake_heroku, identity):
    _, grant = fake_heroku.state.start_provisioning("shop-app")
    identity.exchange_grant(grant.code)
    with pytest.raises(HerokuAuthError) as caught:
        identity.exchange_grant(grant.code)
    assert (caught.value.status, caught.value.id) == (401, "unauthorized")


def test_an_expired_or_unknown_grant_is_refused(fake_heroku, identity):
    _, grant = fake_heroku.state.start_provisioning("shop-app")
    with pytest.raises(HerokuAuthError):
        identity.exchange_grant("no-such-code")
    fake_heroku.state.advance(GRANT_LIFETIME + 1)
    with pytest.raises(HerokuAuthError):
        identity.exchange_grant(grant.code)


def test_a_wrong_client_secret_is_refused(fake_heroku, http):
    _, grant = fake_heroku.state.start_provisioning("shop-app")
    wrong = HerokuIdentity(http, fake_heroku.id_url, "not-our-secret")
    with pytest.raises(HerokuAuthError):
        wrong.exchange_grant(grant.code)
    assert not grant.used


@pytest.mark.parametrize(
    ("data", "headers"),
    [
        ({"grant_type": "password", "client_secret": CLIENT_SECRET}, None),
        ({"grant_type": "authorization_code", "client_secret": CLIENT_SECRET}, None),
        (None, {"Content-Type": "application/json"}),
    ],
)
def test_malformed_token_requests_are_400(fake_heroku, data, headers):
    if data is None:
        response = httpx.post(fake_heroku.id_url + "/oauth/token", content=b"{}", headers=headers)
    else:
        response = httpx.post(fake_heroku.id_url + "/oauth/token", data=data)
    assert (response.status_code, response.json()["id"]) == (400, "bad_request")


def test_an_expired_partner_token_is_refreshed(fake_heroku, platform, identity):
    addon, grant = fake_heroku.state.start_provisioning("shop-app")
    first = identity.exchange_grant(grant.code)
    fake_heroku.state.advance(ACCESS_TOKEN_LIFETIME + 1)
    with pytest.raises(HerokuAuthError):
        platform.set_addon_config(first.access_token, addon.id, {"GUVSCALE_ID": "g"})
    second = identity.refresh(first.refresh_token)
    assert second.access_token != first.access_token
    assert second.refresh_token == first.refresh_token
    assert platform.set_addon_config(second.access_token, addon.id, {"GUVSCALE_ID": "g"})
    fake_heroku.state.revoke(first.refresh_token)
    with pytest.raises(HerokuAuthError):
        identity.refresh(first.refresh_token)


def test_config_names_outside_the_manifest_are_refused(fake_heroku, platform, identity):
    addon, grant = fake_heroku.state.start_provisioning("shop-app")
    token = identity.exchange_grant(grant.code).access_token
    with pytest.raises(HerokuRejected) as caught:
        platform.set_addon_config(token, addon.id, {"GUVSCALE_ID": "g", "DATABASE_URL": "x"})
    assert (caught.value.status, caught.value.id) == (422, "invalid_params")
    assert "DATABASE_URL" in caught.value.message
    assert addon.config == {}


def test_a_null_value_unsets_a_config_var(fake_heroku, platform, identity):
    addon, grant = fake_heroku.state.start_provisioning("shop-app")
    token = identity.exchange_grant(grant.code).access_token
    platform.set_addon_config(token, addon.id, {"GUVSCALE_ID": "g", "GUVSCALE_URL": "u"})
    assert platform.set_addon_config(token, addon.id, {"GUVSCALE_URL": None}) == {
        "GUVSCALE_ID": "g"
    }


def test_tokens_act_only_where_they_belong(fake_heroku, platform, identity, owner):
    state = fake_heroku.state
    addon, grant = state.start_provisioning("acme-app")
    other, _ = state.start_provisioning("shop-app")
    partner = identity.exchange_grant(grant.code).access_token
    # A partner token is for its own add-on only.
    with pytest.raises(HerokuAuthError) as caught:
        platform.mark_provisioned(partner, other.id)
    assert (caught.value.status, caught.value.id) == (403, "forbidden")
    # The app owner's token may not write the add-on's config.
    with pytest.raises(HerokuAuthError):
        platform.set_addon_config(owner, addon.id, {"GUVSCALE_ID": "g"})
    # Whether a partner token may scale is unconfirmed: the fake says no unless told.
    with pytest.raises(HerokuAuthError):
        platform.scale(partner, "acme-app", {"worker": 1})
    state.partner_tokens_may_scale = True
    state.apps["acme-app"].owner = None
    assert platform.scale(partner, "acme-app", {"worker": 1})[0].quantity == 1


def test_a_deprovisioned_addon_is_gone(fake_heroku, platform, identity):
    addon, grant = fake_heroku.state.start_provisioning("shop-app")
    token = identity.exchange_grant(grant.code).access_token
    addon.state = "deprovisioned"
    with pytest.raises(HerokuNotFound):
        platform.mark_provisioned(token, addon.id)


def test_oauth_grant_is_shaped_like_herokus(fake_heroku):
    _, grant = fake_heroku.state.start_provisioning("shop-app")
    body = grant.as_oauth_grant()
    assert body["type"] == "authorization_code" and body["code"] == grant.code
    assert body["expires_at"].endswith("+0000")


# -- standalone --------------------------------------------------------------


def test_parse_formation():
    assert parse_formation(["worker=2", "web=1:Eco"]) == {"worker": 2, "web": (1, "Eco")}


def test_the_fake_runs_standalone():
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_heroku",
            "--port",
            str(port),
            "--token",
            "dev-token",
            "--app",
            "dev-app",
            "--formation",
            "worker=3",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line and "dev-token" not in line
        with httpx.Client() as http:
            platform = HerokuPlatform(http, f"http://127.0.0.1:{port}", "t", timeout=5.0)
            assert [
                (f.type, f.quantity) for f in platform.list_formation("dev-token", "dev-app")
            ] == [("worker", 3)]
    finally:
        process.terminate()
        process.wait(timeout=10)
