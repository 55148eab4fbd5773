"""The Heroku adapters against mocked HTTP: what they send, what they read, how they fail."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from guvscale.heroku import (
    Account,
    AddOn,
    Formation,
    HerokuAuthError,
    HerokuError,
    HerokuIdentity,
    HerokuNotFound,
    HerokuPaymentRequired,
    HerokuPlatform,
    HerokuRateLimited,
    HerokuRejected,
    HerokuUnavailable,
)

API = "https://api.heroku.test"
ID = "https://id.heroku.test"
TOKEN = "user-token-5f0c1e2d9a"
SECRET = "oauth-client-secret-77"
NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def formation_body(kind: str = "worker", quantity: int = 2) -> dict[str, object]:
    return {
        "app": {"id": "01234567-89ab-cdef-0123-456789abcdef", "name": "acme-app"},
        "command": f"python -m {kind}",
        "created_at": "2026-01-01T12:00:00Z",
        "dyno_size": {"id": "01234567-89ab-cdef-0123-456789abcde0", "name": "Standard-1X"},
        "id": "01234567-89ab-cdef-0123-456789abcde1",
        "quantity": quantity,
        "size": "Standard-1X",
        "type": kind,
        "updated_at": "2026-01-02T12:00:00Z",
    }


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


@pytest.fixture
def platform(client: httpx.Client) -> HerokuPlatform:
    return HerokuPlatform(client, API + "/", "guvscale-test/1.0", timeout=4.5)


@pytest.fixture
def identity(client: httpx.Client) -> HerokuIdentity:
    return HerokuIdentity(client, ID, SECRET, timeout=3.0, clock=lambda: NOW)


# -- Platform API: requests and parsing ------------------------------------


def test_every_platform_call_sends_version_bearer_and_user_agent(mock, platform):
    route = mock.get(f"{API}/apps/acme-app/formation").respond(200, json=[])
    platform.list_formation(TOKEN, "acme-app")
    sent = route.calls.last.request
    assert sent.headers["Accept"] == "application/vnd.heroku+json; version=3"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["User-Agent"] == "guvscale-test/1.0"
    # The timeout is ours, not httpx's default.
    assert sent.extensions["timeout"] == httpx.Timeout(4.5).as_dict()


def test_list_formation_reads_heroku_objects(mock, platform):
    mock.get(f"{API}/apps/acme-app/formation").respond(
        200, json=[formation_body("web", 1), formation_body("worker", 3)]
    )
    found = platform.list_formation(TOKEN, "acme-app")
    assert found == [
        Formation(
            type="web",
            quantity=1,
            size="Standard-1X",
            id="01234567-89ab-cdef-0123-456789abcde1",
            app_id="01234567-89ab-cdef-0123-456789abcdef",
            app_name="acme-app",
            command="python -m web",
            updated_at=datetime(2026, 1, 2, 12, 0, tzinfo=UTC),
        ),
        Formation(
            type="worker",
            quantity=3,
            size="Standard-1X",
            id="01234567-89ab-cdef-0123-456789abcde1",
            app_id="01234567-89ab-cdef-0123-456789abcdef",
            app_name="acme-app",
            command="python -m worker",
            updated_at=datetime(2026, 1, 2, 12, 0, tzinfo=UTC),
        ),
    ]


def test_formation_size_falls_back_to_the_deprecated_field(mock, platform):
    body = formation_body()
    del body["dyno_size"]
    body["size"] = "Eco"
    mock.get(f"{API}/apps/acme-app/formation/worker").respond(200, json=body)
    assert platform.get_formation(TOKEN, "acme-app", "worker").size == "Eco"


def test_scale_sends_one_batch_with_only_the_given_types(mock, platform):
    route = mock.patch(f"{API}/apps/acme-app/formation").respond(
        200, json=[formation_body("urgent", 0), formation_body("worker", 4)]
    )
    result = platform.scale(TOKEN, "acme-app", {"worker": 4, "urgent": 0})
    assert route.call_count == 1
    sent = route.calls.last.request
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {
        "updates": [{"type": "urgent", "quantity": 0}, {"type": "worker", "quantity": 4}]
    }
    assert [(f.type, f.quantity) for f in result] == [("urgent", 0), ("worker", 4)]


def test_scale_with_nothing_to_change_calls_nobody(mock, platform):
    route = mock.patch(f"{API}/apps/acme-app/formation").respond(200, json=[])
    assert platform.scale(TOKEN, "acme-app", {}) == []
    assert route.call_count == 0


@pytest.mark.parametrize("bad", [-1, True, 2.0, "3"])
def test_scale_refuses_a_quantity_heroku_would_reject_before_sending(mock, platform, bad):
    route = mock.patch(url__regex=r".*").respond(200, json=[])
    with pytest.raises(ValueError, match="non-negative integer"):
        platform.scale(TOKEN, "acme-app", {"worker": bad})
    with pytest.raises(ValueError):
        platform.scale_one(TOKEN, "acme-app", "worker", bad)
    assert route.call_count == 0


def test_scale_one_patches_the_process_type(mock, platform):
    route = mock.patch(f"{API}/apps/acme-app/formation/worker").respond(
        200, json=formation_body("worker", 5)
    )
    result = platform.scale_one(TOKEN, "acme-app", "worker", 5)
    assert json.loads(route.calls.last.request.content) == {"quantity": 5}
    assert result.quantity == 5 and result.type == "worker"


def test_path_segments_are_quoted(mock, platform):
    route = mock.get(f"{API}/apps/acme-app/formation/we%2Fird").respond(200, json=formation_body())
    platform.get_formation(TOKEN, "acme-app", "we/ird")
    assert route.call_count == 1


def test_set_addon_config_sends_name_value_pairs_and_reads_the_result(mock, platform):
    route = mock.patch(f"{API}/addons/addon-1/config").respond(
        200,
        json=[
            {"name": "GUVSCALE_ID", "value": "g-1"},
            {"name": "GUVSCALE_URL", "value": "https://x"},
            {"name": "GUVSCALE_TOKEN", "value": None},
        ],
    )
    result = platform.set_addon_config(
        TOKEN, "addon-1", {"GUVSCALE_ID": "g-1", "GUVSCALE_URL": "https://x"}
    )
    assert json.loads(route.calls.last.request.content) == {
        "config": [
            {"name": "GUVSCALE_ID", "value": "g-1"},
            {"name": "GUVSCALE_URL", "value": "https://x"},
        ]
    }
    assert result == {"GUVSCALE_ID": "g-1", "GUVSCALE_URL": "https://x", "GUVSCALE_TOKEN": None}


def test_mark_provisioned_posts_the_action(mock, platform):
    route = mock.post(f"{API}/addons/addon-1/actions/provision").respond(
        200, json={"id": "addon-1", "name": "acme-guvscale-1", "state": "provisioned"}
    )
    assert platform.mark_provisioned(TOKEN, "addon-1") == AddOn(
        id="addon-1", name="acme-guvscale-1", state="provisioned"
    )
    assert route.calls.last.request.content == b""


def test_get_account_reads_whose_token_it_is(mock, platform):
    route = mock.get(f"{API}/account").respond(
        200, json={"id": "user-1", "email": "owner@example.com", "verified": True}
    )
    assert platform.get_account(TOKEN) == Account(id="user-1", email="owner@example.com")
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_get_addon_reads_the_app_it_is_attached_to(mock, platform):
    mock.get(f"{API}/addons/0f0e0d0c-1111-2222-3333-444455556666").respond(
        200,
        json={
            "id": "0f0e0d0c-1111-2222-3333-444455556666",
            "name": "guvscale-curly-1",
            "state": "provisioned",
            "app": {"id": "app-id-1", "name": "acme-app"},
        },
    )
    addon = platform.get_addon(TOKEN, "0f0e0d0c-1111-2222-3333-444455556666")
    assert (addon.app_id, addon.app_name, addon.state) == ("app-id-1", "acme-app", "provisioned")


def test_get_config_vars_leaves_out_unset_ones(mock, platform):
    mock.get(f"{API}/apps/app-id-1/config-vars").respond(
        200, json={"CLOUDAMQP_URL": "amqps://u:p@h/v", "GONE": None}
    )
    assert platform.get_config_vars(TOKEN, "app-id-1") == {"CLOUDAMQP_URL": "amqps://u:p@h/v"}


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (lambda p: p.get_account(TOKEN), {"email": "no id"}),
        (lambda p: p.get_addon(TOKEN, "a"), ["not", "an", "add-on"]),
        (lambda p: p.get_config_vars(TOKEN, "a"), ["A=b"]),
    ],
)
def test_account_addon_and_config_answers_of_the_wrong_shape_are_unavailable(
    mock, platform, call, body
):
    mock.route(host="api.heroku.test").respond(200, json=body)
    with pytest.raises(HerokuUnavailable):
        call(platform)


@pytest.mark.parametrize(
    ("status", "kind"), [(401, HerokuAuthError), (403, HerokuAuthError), (404, HerokuNotFound)]
)
def test_account_and_addon_errors_map(mock, platform, status, kind):
    mock.route(host="api.heroku.test").respond(status, json={"id": "x", "message": "no"})
    with pytest.raises(kind):
        platform.get_account(TOKEN)
    with pytest.raises(kind):
        platform.get_addon(TOKEN, "addon-1")


def test_rate_limit_remaining_and_last_headers_are_recorded(mock, platform):
    mock.get(f"{API}/account/rate-limits").respond(
        200,
        json={"remaining": 2399},
        headers={"Request-Id": "req-1", "RateLimit-Remaining": "2399"},
    )
    assert platform.rate_limit_remaining(TOKEN) == 2399
    assert platform.last_request_id == "req-1"
    assert platform.last_rate_limit_remaining == 2399


def test_a_rate_limit_header_that_is_not_ascii_digits_is_ignored(mock, platform):
    mock.get(f"{API}/account/rate-limits").respond(
        200, json={"remaining": 2399}, headers={"RateLimit-Remaining": "\u00b2".encode("latin-1")}
    )
    assert platform.rate_limit_remaining(TOKEN) == 2399
    assert platform.last_rate_limit_remaining is None


def test_the_async_adapter_ignores_a_rate_limit_header_that_is_not_ascii_digits(mock):
    # It once used str.isdigit(), which accepts "²" and then made int() fail the tick.
    import asyncio

    from guvscale.heroku.platform_async import AsyncHerokuPlatform

    mock.get(f"{API}/apps/acme-app/formation").respond(
        200,
        json=[formation_body()],
        headers={"RateLimit-Remaining": "\u00b2".encode("latin-1"), "Request-Id": "req-9"},
    )

    async def go() -> tuple[int | None, str | None]:
        async with httpx.AsyncClient() as http:
            answer = await AsyncHerokuPlatform(http, API, "t/1").list_formation(TOKEN, "acme-app")
            return answer.rate_limit_remaining, answer.request_id

    assert asyncio.run(go()) == (None, "req-9")


def test_headers_of_a_failed_call_are_recorded_too(mock, platform):
    mock.get(f"{API}/apps/acme-app/formation").respond(
        429,
        json={"id": "rate_limit", "message": "slow down"},
        headers={"Request-Id": "req-2", "RateLimit-Remaining": "0"},
    )
    with pytest.raises(HerokuRateLimited):
        platform.list_formation(TOKEN, "acme-app")
    assert (platform.last_request_id, platform.last_rate_limit_remaining) == ("req-2", 0)


# -- Platform API: error mapping -------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "kind", "error_id", "retryable"),
    [
        (
            401,
            {"id": "unauthorized", "message": "Invalid credentials provided."},
            HerokuAuthError,
            "unauthorized",
            False,
        ),
        (
            403,
            {"id": "suspended", "message": "This account has been suspended."},
            HerokuAuthError,
            "suspended",
            False,
        ),
        (
            402,
            {"id": "delinquent", "message": "Pay up."},
            HerokuPaymentRequired,
            "delinquent",
            False,
        ),
        (
            404,
            {"id": "not_found", "message": "Couldn't find that process type."},
            HerokuNotFound,
            "not_found",
            False,
        ),
        (422, {"id": "invalid_params", "message": "bad"}, HerokuRejected, "invalid_params", False),
        (
            400,
            {"id": "missing_version", "message": "version!"},
            HerokuRejected,
            "missing_version",
            False,
        ),
        (
            429,
            {"id": "rate_limit", "message": "Your account reached the API rate limit."},
            HerokuRateLimited,
            "rate_limit",
            True,
        ),
        (
            500,
            {"id": "internal_server_error", "message": "oops"},
            HerokuUnavailable,
            "internal_server_error",
            True,
        ),
        (
            503,
            {"id": "service_unavailable", "message": "down"},
            HerokuUnavailable,
            "service_unavailable",
            True,
        ),
        (409, {"id": "conflict", "message": "busy"}, HerokuError, "conflict", False),
    ],
)
def test_http_errors_become_our_exceptions(mock, platform, status, body, kind, error_id, retryable):
    mock.get(f"{API}/apps/acme-app/formation").respond(
        status, json=body, headers={"Request-Id": "req-9"}
    )
    with pytest.raises(HerokuError) as caught:
        platform.list_formation(TOKEN, "acme-app")
    error = caught.value
    assert type(error) is kind
    assert (error.status, error.id, error.message, error.request_id) == (
        status,
        error_id,
        body["message"],
        "req-9",
    )
    assert error.retryable is retryable


def test_cannot_run_above_limit_carries_the_limit(mock, platform):
    mock.patch(f"{API}/apps/acme-app/formation").respond(
        422,
        json={"id": "cannot_run_above_limit", "limit": 2, "message": "Cannot run more than 2."},
    )
    with pytest.raises(HerokuRejected) as caught:
        platform.scale(TOKEN, "acme-app", {"worker": 3})
    assert (caught.value.id, caught.value.limit) == ("cannot_run_above_limit", 2)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({}, 60.0), ({"Retry-After": "7"}, 7.0), ({"Retry-After": "soon"}, 60.0)],
)
def test_rate_limited_says_when_to_retry(mock, platform, headers, expected):
    mock.get(f"{API}/apps/acme-app/formation").respond(
        429, json={"id": "rate_limit", "message": "x"}, headers=headers
    )
    with pytest.raises(HerokuRateLimited) as caught:
        platform.list_formation(TOKEN, "acme-app")
    assert caught.value.retry_after == expected


def test_an_error_without_a_json_body_still_maps(mock, platform):
    mock.get(f"{API}/apps/acme-app/formation").respond(502, text="<html>Bad Gateway</html>")
    with pytest.raises(HerokuUnavailable) as caught:
        platform.list_formation(TOKEN, "acme-app")
    assert (caught.value.status, caught.value.id) == (502, "http_502")


@pytest.mark.parametrize(
    ("exc", "status", "error_id"),
    [
        (httpx.ReadTimeout("timed out"), 504, "timeout"),
        (httpx.ConnectTimeout("timed out"), 504, "timeout"),
        (httpx.ConnectError("connection refused"), 502, "connection_error"),
        (httpx.RemoteProtocolError("server hung up"), 502, "connection_error"),
    ],
)
def test_transport_failures_are_unavailable(mock, platform, exc, status, error_id):
    mock.get(f"{API}/apps/acme-app/formation").mock(side_effect=exc)
    with pytest.raises(HerokuUnavailable) as caught:
        platform.list_formation(TOKEN, "acme-app")
    assert (caught.value.status, caught.value.id, caught.value.retryable) == (
        status,
        error_id,
        True,
    )


@pytest.mark.parametrize(
    "body", [b"not json", b'{"remaining": "lots"}', b"[]", b'{"remaining": true}']
)
def test_an_unreadable_answer_is_unavailable(mock, platform, body):
    mock.get(f"{API}/account/rate-limits").respond(200, content=body)
    with pytest.raises(HerokuUnavailable) as caught:
        platform.rate_limit_remaining(TOKEN)
    assert (caught.value.status, caught.value.id) == (502, "bad_response")


@pytest.mark.parametrize(
    "body", [{"type": "worker"}, {"type": "worker", "quantity": "2"}, {"quantity": 1}, []]
)
def test_a_formation_missing_what_we_use_is_unavailable(mock, platform, body):
    mock.get(f"{API}/apps/acme-app/formation/worker").respond(200, json=body)
    with pytest.raises(HerokuUnavailable, match="formation"):
        platform.get_formation(TOKEN, "acme-app", "worker")


# -- secrets stay out of messages and logs ---------------------------------


def test_a_token_echoed_by_heroku_is_scrubbed(mock, platform, caplog):
    mock.get(f"{API}/apps/acme-app/formation").respond(
        401, json={"id": "unauthorized", "message": f"Token {TOKEN} is not valid"}
    )
    caplog.set_level(logging.DEBUG, logger="guvscale.heroku")
    with pytest.raises(HerokuAuthError) as caught:
        platform.list_formation(TOKEN, "acme-app")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    assert TOKEN not in caught.value.message
    assert "[redacted]" in caught.value.message
    assert caplog.records, "each call leaves a log line"
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_a_token_in_a_transport_error_is_scrubbed(mock, platform, caplog):
    mock.get(f"{API}/apps/acme-app/formation").mock(
        side_effect=httpx.ReadTimeout(f"read timed out (Bearer {TOKEN})")
    )
    caplog.set_level(logging.DEBUG, logger="guvscale.heroku")
    with pytest.raises(HerokuUnavailable) as caught:
        platform.list_formation(TOKEN, "acme-app")
    assert TOKEN not in str(caught.value)
    # Raised "from None": no chained exception drags the request into a traceback.
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


# -- identity ---------------------------------------------------------------


def token_answer(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "access_token": "access-abc",
        "refresh_token": "refresh-def",
        "expires_in": 28799,
        "token_type": "Bearer",
        "user_id": "user-1",
        "session_nonce": None,
    }
    body.update(overrides)
    return body


def test_exchange_grant_posts_the_form_heroku_documents(mock, identity):
    route = mock.post(f"{ID}/oauth/token").respond(200, json=token_answer())
    tokens = identity.exchange_grant("grant-code-1")
    sent = route.calls.last.request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.content.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["grant-code-1"],
        "client_secret": [SECRET],
    }
    assert "Authorization" not in sent.headers
    assert sent.extensions["timeout"] == httpx.Timeout(3.0).as_dict()
    assert tokens.access_token == "access-abc"
    assert tokens.refresh_token == "refresh-def"
    assert tokens.user_id == "user-1"
    assert tokens.expires_at == NOW + timedelta(seconds=28799)


def test_now_passed_in_wins_over_the_clock(mock, identity):
    mock.post(f"{ID}/oauth/token").respond(200, json=token_answer(expires_in=100))
    later = NOW + timedelta(hours=1)
    assert identity.exchange_grant("c", now=later).expires_at == later + timedelta(seconds=100)


def test_refresh_posts_the_refresh_form(mock, identity):
    route = mock.post(f"{ID}/oauth/token").respond(
        200, json=token_answer(access_token="access-2", refresh_token="refresh-2")
    )
    tokens = identity.refresh("refresh-def")
    assert parse_qs(route.calls.last.request.content.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["refresh-def"],
        "client_secret": [SECRET],
    }
    assert (tokens.access_token, tokens.refresh_token) == ("access-2", "refresh-2")


def test_refresh_keeps_the_refresh_token_when_heroku_sends_none(mock, identity):
    body = token_answer(access_token="access-2")
    del body["refresh_token"]
    mock.post(f"{ID}/oauth/token").respond(200, json=body)
    assert identity.refresh("refresh-def").refresh_token == "refresh-def"


def test_an_exchange_answer_without_a_refresh_token_is_unusable(mock, identity):
    body = token_answer()
    del body["refresh_token"]
    mock.post(f"{ID}/oauth/token").respond(200, json=body)
    with pytest.raises(HerokuUnavailable, match="OAuth token"):
        identity.exchange_grant("c")


@pytest.mark.parametrize(
    "body", [{"access_token": ""}, {"expires_in": "soon"}, {"expires_in": None}]
)
def test_an_unusable_token_answer_is_unavailable(mock, identity, body):
    mock.post(f"{ID}/oauth/token").respond(200, json=token_answer(**body))
    with pytest.raises(HerokuUnavailable):
        identity.exchange_grant("c")


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, HerokuAuthError), (400, HerokuRejected), (503, HerokuUnavailable)],
)
def test_identity_errors_map_like_the_platform(mock, identity, status, kind):
    mock.post(f"{ID}/oauth/token").respond(
        status, json={"id": "unauthorized", "message": "Invalid grant."}
    )
    with pytest.raises(kind):
        identity.exchange_grant("c")


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token"])
def test_identity_secrets_never_reach_messages(mock, identity, caplog, grant_type):
    # Whatever the call carried (grant code or refresh token, and our client secret),
    # echoed back by Heroku, stays out of the exception and the log.
    secret_in_call = f"{grant_type}-value-5b1d"
    mock.post(f"{ID}/oauth/token").respond(
        401, json={"id": "unauthorized", "message": f"bad {secret_in_call} {SECRET}"}
    )
    caplog.set_level(logging.DEBUG, logger="guvscale.heroku")
    call = identity.exchange_grant if grant_type == "authorization_code" else identity.refresh
    with pytest.raises(HerokuAuthError) as caught:
        call(secret_in_call)
    text = str(caught.value) + repr(caught.value)
    assert SECRET not in text and secret_in_call not in text
    assert all(s not in r.getMessage() for r in caplog.records for s in (SECRET, secret_in_call))


def test_identity_timeout_is_unavailable(mock, identity):
    mock.post(f"{ID}/oauth/token").mock(side_effect=httpx.ReadTimeout("timed out"))
    with pytest.raises(HerokuUnavailable) as caught:
        identity.exchange_grant("c")
    assert caught.value.status == 504


def test_a_token_set_never_shows_its_tokens(mock, identity):
    mock.post(f"{ID}/oauth/token").respond(200, json=token_answer())
    tokens = identity.exchange_grant("c")
    shown = repr(tokens) + str(tokens)
    assert "access-abc" not in shown and "refresh-def" not in shown
    assert "user-1" in shown


@pytest.mark.parametrize("expires_in", [1e300, 10**30, -5, 0, 400 * 24 * 3600])
def test_a_token_lifetime_we_could_not_store_is_unavailable(mock, identity, expires_in):
    # Out of range, it would overflow datetime or land outside what the database holds.
    mock.post(f"{ID}/oauth/token").respond(200, json=token_answer(expires_in=expires_in))
    with pytest.raises(HerokuUnavailable, match="OAuth token"):
        identity.exchange_grant("c")


def test_a_nan_token_lifetime_is_unavailable(mock, identity):
    mock.post(f"{ID}/oauth/token").respond(
        200,
        content=b'{"access_token":"a","refresh_token":"r","expires_in":NaN}',
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(HerokuUnavailable, match="OAuth token"):
        identity.exchange_grant("c")
