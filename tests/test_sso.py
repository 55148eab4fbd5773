"""Heroku SSO through the app, on PostgreSQL: every form Heroku sends, and every refusal."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, ResourceState
from guvscale.settings import Settings
from guvscale.web.app import SESSION_COOKIE, create_app
from tests.factories import sha1_hex
from tests.web_fixtures import make_settings

NAV_DATA = "eyJhZGRvbiI6IllvdXIgQWRkb24iLCJhcHBuYW1lIjoibXlhcHAifQ"


def add_resource(
    sessions: sessionmaker[Session],
    *,
    state: ResourceState = ResourceState.provisioned,
    app_name: str | None = "old-app",
    name: str = "acme-guvscale-1",
) -> Resource:
    with sessions.begin() as s:
        resource = Resource(
            heroku_uuid=str(uuid.uuid4()),
            name=name,
            app_name=app_name,
            plan="test",
            region="amazon-web-services::us-east-1",
            state=state,
        )
        s.add(resource)
    return resource


def app_name_of(sessions: sessionmaker[Session], resource_id: str) -> str | None:
    with sessions() as s:
        resource = s.get(Resource, resource_id)
        assert resource is not None
        return resource.app_name


def v3_form(
    resource: Resource, salt: str, ts: int | None = None, **extra: str | None
) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    form = {
        "resource_id": resource.heroku_uuid,
        "resource_token": sha1_hex(resource.heroku_uuid, salt, ts),
        "timestamp": str(ts),
        "email": "dev@example.com",
        "user_id": "7b3f0e4c-user",
        "app": "my-app",
        "context_app": "my-app",
    }
    for key, value in extra.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


def user_scoped(resource: Resource, form: dict[str, str], salt: str) -> bytes:
    text = ":".join([resource.heroku_uuid, salt, form["timestamp"], form["user_id"], form["email"]])
    return hashlib.sha256(text.encode()).digest()


def v1_form(resource: Resource, salt: str, ts: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "id": resource.id,
        "token": sha1_hex(resource.id, salt, ts),
        "timestamp": str(ts),
        "nav-data": NAV_DATA,
        "email": "username@example.com",
        "app": "myapp",
    }


def sign_in(client: TestClient, resource: Resource, salt: str, ts: int | None = None) -> None:
    r = client.post("/heroku/sso", data=v3_form(resource, salt, ts), follow_redirects=False)
    assert r.status_code == 302


def session_cookie_header(response: object) -> str | None:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(SESSION_COOKIE + "=")]
    return found[0] if found else None


# --- success -----------------------------------------------------------------


def test_v3_form_post_signs_in_and_redirects(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    r = client.post(
        "/heroku/sso", data=v3_form(resource, settings.sso_salt), follow_redirects=False
    )
    assert r.status_code == 302
    assert r.headers["location"] == f"/resources/{resource.id}"
    assert r.headers["cache-control"] == "no-store"
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "dev@example.com" in page.text
    assert resource.id in page.text


def test_v3_get_with_query(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    r = client.get(
        "/heroku/sso", params=v3_form(resource, settings.sso_salt), follow_redirects=False
    )
    assert r.status_code == 302
    assert r.headers["location"] == f"/resources/{resource.id}"
    assert client.get(f"/resources/{resource.id}").status_code == 200


@pytest.mark.parametrize(
    "encode, keep_plain",
    [
        (bytes.hex, True),
        (bytes.hex, False),
        (lambda d: base64.b64encode(d).decode(), False),
        (lambda d: base64.urlsafe_b64encode(d).decode().rstrip("="), True),
    ],
    ids=["hex+plain", "hex", "base64", "base64url+plain"],
)
def test_v3_user_scoped_token(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    encode: object,
    keep_plain: bool,
) -> None:
    resource = add_resource(sessions)
    form = v3_form(resource, settings.sso_salt)
    form["user_scoped_resource_token"] = encode(  # type: ignore[operator]
        user_scoped(resource, form, settings.sso_salt)
    )
    if not keep_plain:
        del form["resource_token"]
    r = client.post("/heroku/sso", data=form, follow_redirects=False)
    assert r.status_code == 302
    assert client.get(f"/resources/{resource.id}").status_code == 200


@pytest.mark.parametrize("path", ["/heroku/sso", "/sso/login"])
def test_v1_legacy_form_sets_nav_data_cookie(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, path: str
) -> None:
    resource = add_resource(sessions)
    r = client.post(path, data=v1_form(resource, settings.sso_salt), follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == f"/resources/{resource.id}"
    nav = [h for h in r.headers.get_list("set-cookie") if h.startswith("heroku-nav-data=")]
    assert len(nav) == 1
    assert nav[0].startswith(f"heroku-nav-data={NAV_DATA};")
    assert "httponly" not in nav[0].lower()  # Heroku's nav script reads it
    assert client.get(f"/resources/{resource.id}").status_code == 200
    assert app_name_of(sessions, resource.id) == "myapp"


def test_v1_get_at_kensa_path(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    r = client.get(
        "/sso/login", params=v1_form(resource, settings.sso_salt), follow_redirects=False
    )
    assert r.status_code == 302


def test_v1_accepts_the_heroku_uuid_as_id(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    ts = int(time.time())
    form = v1_form(resource, settings.sso_salt, ts)
    form["id"] = resource.heroku_uuid
    form["token"] = sha1_hex(resource.heroku_uuid, settings.sso_salt, ts)
    r = client.post("/sso/login", data=form, follow_redirects=False)
    assert r.headers["location"] == f"/resources/{resource.id}"


def test_session_cookie_attributes(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    r = client.post(
        "/heroku/sso", data=v3_form(resource, settings.sso_salt), follow_redirects=False
    )
    cookie = session_cookie_header(r)
    assert cookie is not None
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "path=/" in attributes
    assert "secure" not in attributes  # development serves plain http
    assert "dev@example.com" not in cookie  # signed and base64'd, and no token in it
    assert r.headers["location"] not in cookie


def test_session_cookie_is_secure_in_production(
    database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    settings = make_settings(
        guvscale_env="production", database_url=database_url, public_url="https://testserver"
    )
    resource = add_resource(sessions)
    app = create_app(settings, engine=engine, run_background=False)
    with TestClient(app, base_url="https://testserver") as client:
        r = client.post(
            "/heroku/sso", data=v1_form(resource, settings.sso_salt), follow_redirects=False
        )
    assert r.status_code == 302
    cookie = session_cookie_header(r)
    assert cookie is not None
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert {"secure", "httponly", "samesite=lax"} <= set(attributes)
    nav = next(h for h in r.headers.get_list("set-cookie") if h.startswith("heroku-nav-data="))
    assert "secure" in nav.lower()


def test_session_is_for_that_one_resource(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    mine = add_resource(sessions)
    other = add_resource(sessions, name="other-guvscale-2")
    sign_in(client, mine, settings.sso_salt)
    assert client.get(f"/resources/{mine.id}").status_code == 200
    denied = client.get(f"/resources/{other.id}")
    assert denied.status_code == 403
    assert other.heroku_uuid not in denied.text


def test_new_sign_in_replaces_the_old_session(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    first = add_resource(sessions)
    second = add_resource(sessions, name="acme-guvscale-2")
    sign_in(client, first, settings.sso_salt)
    sign_in(client, second, settings.sso_salt)
    assert client.get(f"/resources/{second.id}").status_code == 200
    assert client.get(f"/resources/{first.id}").status_code == 403


def test_app_name_recorded_only_when_given(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions, app_name="old-app")
    # Two distinct seconds, fixed up front: each token is single use, and taking
    # "now" twice could land both sign-ins on the same second.
    first = int(time.time())
    r = client.post(
        "/heroku/sso",
        data=v3_form(resource, settings.sso_salt, ts=first, app=None),
        follow_redirects=False,
    )
    assert r.status_code == 302
    assert app_name_of(sessions, resource.id) == "old-app"
    sign_in(client, resource, settings.sso_salt, ts=first - 1)
    assert app_name_of(sessions, resource.id) == "my-app"


# --- refusals ----------------------------------------------------------------


def assert_refused(response: object, phrase: str) -> None:
    """A 403 HTML page naming what is wrong, with no session and no nav cookie set."""
    r = response
    assert r.status_code == 403, phrase  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    assert phrase.lower() in r.text.lower()  # type: ignore[attr-defined]
    assert session_cookie_header(r) is None
    assert "heroku-nav-data" not in r.headers.get("set-cookie", "")  # type: ignore[attr-defined]


def post_refused(
    client: TestClient,
    sessions: sessionmaker[Session],
    resource: Resource,
    form: dict[str, str],
    phrase: str,
    path: str = "/heroku/sso",
) -> None:
    assert_refused(client.post(path, data=form, follow_redirects=False), phrase)
    assert app_name_of(sessions, resource.id) == "old-app", "nothing stored on refusal"
    assert client.cookies.get(SESSION_COOKIE) is None


BAD_TOKEN = "The sign-in token is not valid"


def test_bad_tokens_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    other = add_resource(sessions, name="other")
    salt, uuid_, now = settings.sso_salt, resource.heroku_uuid, int(time.time())
    cases = {
        "wrong token": v3_form(resource, salt, now, resource_token="0" * 40),
        "wrong salt": v3_form(resource, salt, now, resource_token=sha1_hex(uuid_, "guess", now)),
        "another resource's token": v3_form(
            resource, salt, now, resource_token=sha1_hex(other.heroku_uuid, salt, now)
        ),
        "token for another second": v3_form(
            resource, salt, now, resource_token=sha1_hex(uuid_, salt, now - 1)
        ),
        "bad user-scoped beside a good plain token": v3_form(
            resource, salt, now, user_scoped_resource_token="ab" * 32
        ),
        "non-ascii token": v3_form(resource, salt, now, resource_token="é" * 40),
    }
    for form in cases.values():
        post_refused(client, sessions, resource, form, BAD_TOKEN)
    v1 = v1_form(resource, salt, now)
    v1["token"] = sha1_hex(resource.id, "wrong-salt", now)
    post_refused(client, sessions, resource, v1, BAD_TOKEN, path="/sso/login")


def test_stale_future_and_malformed_timestamps_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    salt = settings.sso_salt
    now = int(time.time())
    # kensa's case: a genuine token, six minutes old.
    post_refused(client, sessions, resource, v3_form(resource, salt, now - 360), "expired")
    post_refused(
        client, sessions, resource, v1_form(resource, salt, now - 360), "expired", "/sso/login"
    )
    post_refused(client, sessions, resource, v3_form(resource, salt, now + 120), "future")
    # Far out of datetime's range either way: a clear refusal, never an overflow.
    post_refused(client, sessions, resource, v3_form(resource, salt, 999_999_999_999), "future")
    post_refused(client, sessions, resource, v3_form(resource, salt, 0), "expired")
    for raw in ["soon", f"{now}.0", f"{now}'--", "-1", "9" * 13, "\uff11\uff12\uff13", "1e9"]:
        # Even a token computed over the odd string does not get it through.
        token = sha1_hex(resource.heroku_uuid, salt, raw)
        form = v3_form(resource, salt, timestamp=raw, resource_token=token)
        post_refused(client, sessions, resource, form, "whole unix seconds")


def test_missing_fields_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    for missing in ["resource_id", "resource_token", "timestamp", "email"]:
        form = v3_form(resource, settings.sso_salt, **{missing: None})
        post_refused(client, sessions, resource, form, f"{missing} is missing")
    form = v3_form(resource, settings.sso_salt, timestamp="")
    post_refused(client, sessions, resource, form, "timestamp is missing")
    v1 = v1_form(resource, settings.sso_salt)
    del v1["token"]
    post_refused(client, sessions, resource, v1, "token is missing", "/sso/login")
    assert_refused(client.post("/heroku/sso"), "resource_id is missing")
    assert_refused(client.get("/heroku/sso"), "resource_id is missing")
    as_json = client.post("/heroku/sso", json=v3_form(resource, settings.sso_salt))
    assert_refused(as_json, "resource_id is missing")
    assert app_name_of(sessions, resource.id) == "old-app"


def test_unreadable_and_ambiguous_forms_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    broken = client.post(
        "/heroku/sso",
        content=b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert_refused(broken, "could not be read")
    form = v3_form(resource, settings.sso_salt)
    twice = "&".join(f"{k}={v}" for k, v in form.items()) + "&resource_id=other"
    assert_refused(
        client.post(
            "/heroku/sso",
            content=twice.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        ),
        "resource_id was sent more than once",
    )
    upload = client.post(
        "/heroku/sso",
        data={k: v for k, v in form.items() if k != "email"},
        files={"email": ("e.txt", b"dev@example.com")},
    )
    assert_refused(upload, "could not be read")  # no file parts accepted at all
    assert app_name_of(sessions, resource.id) == "old-app"
    assert client.cookies.get(SESSION_COOKIE) is None


def test_unknown_resources_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    salt = settings.sso_salt
    ghost = Resource(heroku_uuid=str(uuid.uuid4()), id="gvs-ghost")
    assert_refused(client.post("/heroku/sso", data=v3_form(ghost, salt)), "such add-on here")
    assert_refused(client.post("/sso/login", data=v1_form(ghost, salt)), "such add-on here")


# --- a genuine sign-in to an add-on that cannot be shown ---------------------

# What no such page may show: state names, our enum's words, errors, stored values.
INTERNALS = ("provisioning", "provisioned", "deprovisioned", "unknown", "state", "error", "bogus")


def add_job(sessions: sessionmaker[Session], resource: Resource, state: str) -> None:
    """A provision job for `resource`, its state written straight through SQL."""
    with sessions.begin() as s:
        s.execute(
            text(
                "INSERT INTO provision_jobs (resource_id, state, attempts, next_attempt_at,"
                " created_at, updated_at) VALUES (:rid, :state, 1, now(), now(), now())"
            ),
            {"rid": resource.id, "state": state},
        )


def write_resource_state(sessions: sessionmaker[Session], resource: Resource, state: str) -> None:
    with sessions.begin() as s:
        s.execute(
            text("UPDATE resources SET state = :state WHERE id = :id"),
            {"state": state, "id": resource.id},
        )


def assert_not_shown(
    response: object, status: int, title: str, phrase: str, retry_after: str | None
) -> None:
    """An HTML page with this status, title and phrase; no session, nothing internal."""
    r = response
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    assert r.headers.get("retry-after") == retry_after  # type: ignore[attr-defined]
    assert r.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    page = r.text  # type: ignore[attr-defined]
    assert f"<h1>{title}</h1>" in page
    assert phrase in page
    words = page.lower().replace("resources</em> tab", "")  # the dashboard's tab, not ours
    for word in INTERNALS:
        assert word not in words, word
    assert session_cookie_header(r) is None
    assert "heroku-nav-data" not in r.headers.get("set-cookie", "")  # type: ignore[attr-defined]


def both_schemes(resource: Resource, salt: str) -> Iterator[tuple[str, dict[str, str]]]:
    yield "/heroku/sso", v3_form(resource, salt)
    yield "/sso/login", v1_form(resource, salt)


@pytest.mark.parametrize("job", [None, "pending", "done"])
def test_an_add_on_still_being_set_up_is_503_with_retry_after(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, job: str | None
) -> None:
    resource = add_resource(sessions, state=ResourceState.provisioning)
    if job is not None:
        add_job(sessions, resource, job)
    forms = list(both_schemes(resource, settings.sso_salt))
    for path, form in forms:
        r = client.post(path, data=form, follow_redirects=False)
        assert_not_shown(r, 503, "Not ready yet", "still being set up", "30")
        assert "Heroku dashboard" in r.text  # how to sign in once it is ready
    assert app_name_of(sessions, resource.id) == "old-app", "nothing stored on refusal"

    # Once it is ready, the same link works: a refusal does not spend the token.
    write_resource_state(sessions, resource, "provisioned")
    path, form = forms[0]
    assert client.post(path, data=form, follow_redirects=False).status_code == 302


def test_an_add_on_whose_setup_stalled_says_what_to_do(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions, state=ResourceState.provisioning)
    add_job(sessions, resource, "failed")
    for path, form in both_schemes(resource, settings.sso_salt):
        r = client.post(path, data=form, follow_redirects=False)
        assert_not_shown(r, 503, "Not ready yet", "remove the add-on and add it again", "300")


def test_a_removed_add_on_is_410_and_no_sign_in_hint(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions, state=ResourceState.deprovisioned)
    for path, form in both_schemes(resource, settings.sso_salt):
        r = client.post(path, data=form, follow_redirects=False)
        assert_not_shown(r, 410, "Add-on removed", "has been removed from its app", None)
        assert "Heroku dashboard" not in r.text


def test_a_job_state_no_release_knows_is_503_and_names_nothing_internal(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resource = add_resource(sessions, state=ResourceState.provisioning)
    add_job(sessions, resource, "exchanging")  # a newer release's state
    with caplog.at_level(logging.WARNING):
        for path, form in both_schemes(resource, settings.sso_salt):
            r = client.post(path, data=form, follow_redirects=False)
            assert_not_shown(r, 503, "Temporarily unavailable", "try again later", "300")
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("provision_jobs.state 'exchanging'" in m for m in logged), logged
    assert any(resource.id in m and "does not know" in m for m in logged), logged


def test_a_resource_state_no_release_knows_is_503_and_names_nothing_internal(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resource = add_resource(sessions)
    write_resource_state(sessions, resource, "bogus")
    with caplog.at_level(logging.WARNING):
        for path, form in both_schemes(resource, settings.sso_salt):
            r = client.post(path, data=form, follow_redirects=False)
            assert_not_shown(r, 503, "Temporarily unavailable", "try again later", "300")
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(resource.id in m and "does not know" in m for m in logged), logged
    assert client.cookies.get(SESSION_COOKIE) is None


def test_sql_and_quote_laden_values_are_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    salt = settings.sso_salt
    now = int(time.time())
    sql = "' OR '1'='1'; DROP TABLE resources; --"
    # A genuine token over the hostile id: the lookup must still find nothing.
    hostile_v3 = {
        "resource_id": sql,
        "resource_token": sha1_hex(sql, salt, now),
        "timestamp": str(now),
        "email": "dev@example.com",
    }
    assert_refused(client.post("/heroku/sso", data=hostile_v3), "such add-on here")
    hostile_v1 = {"id": sql, "token": sha1_hex(sql, salt, now), "timestamp": str(now)}
    hostile_v1["email"] = "dev@example.com"
    assert_refused(client.post("/sso/login", data=hostile_v1), "such add-on here")
    cases = {
        BAD_TOKEN: v3_form(resource, salt, resource_token=sql),
        "app is not a Heroku app name": v3_form(resource, salt, app=sql),
        "email is not an email address": v3_form(resource, salt, email=f"{sql} <x@example.com>"),
        "field app is too long": v3_form(resource, salt, app="a" * 5000),
    }
    for phrase, form in cases.items():
        post_refused(client, sessions, resource, form, phrase)
    scoped = v3_form(resource, salt, user_scoped_resource_token=sql)
    post_refused(client, sessions, resource, scoped, BAD_TOKEN)
    script = v3_form(resource, salt, app="<script>alert(1)</script>")
    post_refused(client, sessions, resource, script, "app is not a Heroku app name")
    with sessions() as s:
        assert s.query(Resource).count() == 1  # the table is still there, and alone


def test_replayed_token_is_refused(
    client: TestClient, app: object, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    form = v3_form(resource, settings.sso_salt)
    assert client.post("/heroku/sso", data=form, follow_redirects=False).status_code == 302
    # The same browser again (a double click): refused, pointed at its page, still signed in.
    again = client.post("/heroku/sso", data=form, follow_redirects=False)
    assert again.status_code == 403
    assert "already used" in again.text
    assert f'href="/resources/{resource.id}"' in again.text
    assert client.get(f"/resources/{resource.id}").status_code == 200
    # Someone else holding the captured form gets nothing, whatever email they claim.
    with TestClient(app) as thief:  # type: ignore[arg-type]
        for attempt in (form, {**form, "email": "mallory@example.com"}):
            r = thief.post("/heroku/sso", data=attempt, follow_redirects=False)
            assert r.status_code == 403
            assert session_cookie_header(r) is None
        assert thief.get(f"/resources/{resource.id}").status_code == 401


@pytest.mark.parametrize("first", ["v3", "v1"])
def test_a_plain_token_signs_in_once_whichever_form_carries_it(
    app: object, sessions: sessionmaker[Session], settings: Settings, first: str
) -> None:
    # v1's token for Heroku's uuid is v3's resource_token: keyed per form, a
    # captured sign-in signed in again in the other form, under any email.
    resource = add_resource(sessions)
    v3 = v3_form(resource, settings.sso_salt)
    v1 = {"id": v3["resource_id"], "token": v3["resource_token"], "timestamp": v3["timestamp"]}
    v1["email"] = "mallory@example.com"
    used, replayed = (v3, v1) if first == "v3" else (v1, v3)
    with TestClient(app) as owner:  # type: ignore[arg-type]
        assert owner.post("/heroku/sso", data=used, follow_redirects=False).status_code == 302
    with TestClient(app) as thief:  # type: ignore[arg-type]
        for r in (
            thief.post("/heroku/sso", data=replayed, follow_redirects=False),
            thief.get("/sso/login", params=replayed, follow_redirects=False),
        ):
            assert r.status_code == 403
            assert "already used" in r.text
            assert session_cookie_header(r) is None
        assert thief.get(f"/resources/{resource.id}").status_code == 401


def test_refusal_page_escapes_and_hides_secrets(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    form = v3_form(resource, settings.sso_salt, resource_token="<b>bad</b>")
    r = client.get("/heroku/sso", params=form, follow_redirects=False)
    assert r.status_code == 403
    assert "<b>bad</b>" not in r.text
    assert settings.sso_salt not in r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "Heroku dashboard" in r.text


def test_logs_carry_no_token_or_salt(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resource = add_resource(sessions)
    good = v3_form(resource, settings.sso_salt)
    bad = v3_form(resource, settings.sso_salt, int(time.time()) - 1, resource_token="f" * 40)
    with caplog.at_level(logging.DEBUG):
        assert client.get("/heroku/sso", params=good, follow_redirects=False).status_code == 302
        assert client.get("/heroku/sso", params=bad, follow_redirects=False).status_code == 403
    # Ours only: the test client's own httpx logger prints the URL it requested.
    ours = [r for r in caplog.records if r.name.startswith("guvscale")]
    events = [getattr(r, "fields", {}).get("event") for r in ours]
    assert {"sso_signed_in", "sso_refused", "request"} <= set(events)
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in ours)
    for secret in (good["resource_token"], bad["resource_token"], settings.sso_salt):
        assert secret not in logged


# --- nav-data the cookie cannot carry (issue 6, item 6) ------------------------


@pytest.mark.parametrize(
    "nav_data", ["ünïcödé ✓ 🚀", "Zürich", "a;b", 'quote"d', "with space", "back\\slash"]
)
def test_nav_data_a_cookie_cannot_carry_is_dropped_and_sign_in_works(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, nav_data: str
) -> None:
    resource = add_resource(sessions)
    form = v3_form(resource, settings.sso_salt, **{"nav-data": nav_data})
    r = client.post("/heroku/sso", data=form, follow_redirects=False)
    assert r.status_code == 302, r.text
    assert not [h for h in r.headers.get_list("set-cookie") if h.startswith("heroku-nav-data=")]
    assert session_cookie_header(r) is not None
    assert client.get(f"/resources/{resource.id}").status_code == 200


def test_base64_and_jwt_shaped_nav_data_is_kept(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    value = "eyJhIjoiYiJ9.eyJjIjoiZCJ9-_+/=="
    form = v3_form(resource, settings.sso_salt, **{"nav-data": value})
    r = client.post("/heroku/sso", data=form, follow_redirects=False)
    nav = [h for h in r.headers.get_list("set-cookie") if h.startswith("heroku-nav-data=")]
    assert nav and nav[0].startswith(f"heroku-nav-data={value};")
