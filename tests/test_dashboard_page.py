"""The resource page and sign-out: only with a session for that very resource."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import itsdangerous
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, ResourceState, WebSession
from guvscale.settings import Settings
from guvscale.web.app import SESSION_COOKIE
from tests.factories import csrf_of, web_session
from tests.partner_helpers import headers as partner_headers
from tests.test_sso import add_resource, session_cookie_header, sign_in


def session_cookie(secret: str, data: dict[str, object]) -> str:
    """A session cookie as Starlette's SessionMiddleware writes it."""
    payload = base64.b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(secret).sign(payload).decode()


def login_data(
    resource: Resource, session_id: str = "no-such-session", **overrides: object
) -> dict[str, object]:
    data: dict[str, object] = {
        "resource_id": resource.id,
        "email": "dev@example.com",
        "user_id": None,
        "sso": "v3",
        "login_at": int(time.time()),
        "session_id": session_id,
        "csrf": "csrf-token",
    }
    data.update(overrides)
    return data


def test_page_shows_the_resource(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions, app_name="old-app", name="acme-guvscale-7")
    sign_in(client, resource, settings.sso_salt)
    r = client.get(f"/resources/{resource.id}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    for shown in (resource.id, "my-app", "test", "provisioned", "dev@example.com"):
        assert shown in r.text
    assert resource.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") in r.text
    assert resource.heroku_uuid not in r.text  # our id is the one users see
    assert 'action="/logout"' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_values_are_escaped(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    # SSO refuses such an app name, so put it in the table directly.
    resource = add_resource(sessions, name="<img src=x onerror=alert(1)>")
    sign_in(client, resource, settings.sso_salt)
    with sessions.begin() as s:
        row = s.get(Resource, resource.id)
        assert row is not None
        row.app_name = "<script>alert('x')</script>"
    r = client.get(f"/resources/{resource.id}")
    assert r.status_code == 200
    assert "<script>alert" not in r.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in r.text
    assert "<img src=x" not in r.text


def test_without_a_session_the_page_says_where_to_sign_in(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    resource = add_resource(sessions)
    r = client.get(f"/resources/{resource.id}")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    assert "Heroku" in r.text
    assert resource.app_name not in r.text


def test_another_resources_page_is_forbidden(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    mine = add_resource(sessions)
    theirs = add_resource(sessions, name="theirs", app_name="their-secret-app")
    sign_in(client, mine, settings.sso_salt)
    for path in (f"/resources/{theirs.id}", "/resources/gvs-does-not-exist"):
        r = client.get(path)
        assert r.status_code == 403
        assert "their-secret-app" not in r.text
    assert client.get(f"/resources/{mine.id}").status_code == 200  # still signed in


def test_logout_ends_the_session(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    sign_in(client, resource, settings.sso_salt)
    token = csrf_of(client.get(f"/resources/{resource.id}").text)
    r = client.post("/logout", data={"csrf": token})
    assert r.status_code == 200
    assert "Signed out" in r.text
    cleared = session_cookie_header(r)
    assert cleared is not None and "expires=thu, 01 jan 1970" in cleared.lower()
    assert client.get(f"/resources/{resource.id}").status_code == 401


def test_logout_without_a_session_is_harmless(client: TestClient) -> None:
    r = client.post("/logout")
    assert r.status_code == 200
    assert session_cookie_header(r) is None


def test_forged_session_cookies_are_not_signed_in(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    path = f"/resources/{resource.id}"
    live = web_session(sessions, resource.id)
    # The right cookie, to show the shape is one the app would accept.
    client.cookies.set(
        SESSION_COOKIE, session_cookie(settings.secret_key, login_data(resource, live))
    )
    assert client.get(path).status_code == 200

    forged = {
        "other key": session_cookie("not-the-secret-key", login_data(resource, live)),
        "unsigned": base64.b64encode(json.dumps(login_data(resource, live)).encode()).decode(),
        "garbage": "' OR 1=1 --",
        "signed, but no server-side session": session_cookie(
            settings.secret_key, login_data(resource)
        ),
    }
    genuine = session_cookie(settings.secret_key, login_data(resource, live, resource_id="gvs-x"))
    _payload, stamp, signature = genuine.rsplit(".", 2)
    swapped = base64.b64encode(json.dumps(login_data(resource, live)).encode()).decode()
    forged["payload swapped under a genuine signature"] = f"{swapped}.{stamp}.{signature}"
    for label, value in forged.items():
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, value)
        assert client.get(path).status_code == 401, label


def test_malformed_or_expired_session_data_is_not_signed_in(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    path = f"/resources/{resource.id}"
    live = web_session(sessions, resource.id)
    now = int(time.time())
    cases = {
        "nine hours old": login_data(resource, live, login_at=now - 9 * 3600),
        "from the future": login_data(resource, live, login_at=now + 3600),
        "beyond any date": login_data(resource, live, login_at=10**30),
        "before any date": login_data(resource, live, login_at=-(10**30)),
        "login_at a bool": login_data(resource, live, login_at=True),
        "login_at as text": login_data(resource, live, login_at=str(now)),
        "no email": login_data(resource, live, email=None),
        "resource id not text": login_data(resource, live, resource_id=["x"]),
        "no session id": login_data(resource, session_id=None),  # type: ignore[arg-type]
        "no csrf token": login_data(resource, live, csrf=""),
        "empty": {},
    }
    for label, data in cases.items():
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, session_cookie(settings.secret_key, data))
        assert client.get(path).status_code == 401, label


def test_session_ends_when_the_resource_is_deprovisioned(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    sign_in(client, resource, settings.sso_salt)
    with sessions.begin() as s:
        row = s.get(Resource, resource.id)
        assert row is not None
        row.state = ResourceState.deprovisioned
    r = client.get(f"/resources/{resource.id}")
    assert r.status_code == 403
    assert "not provisioned" in r.text
    assert session_cookie_header(r) is not None  # the cleared cookie
    with sessions.begin() as s:
        row = s.get(Resource, resource.id)
        assert row is not None
        row.state = ResourceState.provisioned
    assert client.get(f"/resources/{resource.id}").status_code == 401


# --- sign-out ends the session everywhere (issue 6, item 7) ---------------------


def signed_in_page(client: TestClient, sessions: sessionmaker[Session], settings: Settings) -> str:
    """Sign `client` in to a new resource; its overview page's path."""
    resource = add_resource(sessions)
    sign_in(client, resource, settings.sso_salt)
    return f"/resources/{resource.id}"


def test_a_cookie_copied_before_logout_no_longer_opens_the_page(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    path = signed_in_page(client, sessions, settings)
    page = client.get(path)
    copied = client.cookies.get(SESSION_COOKIE)
    assert copied
    r = client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "Signed out" in r.text
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, copied)
    assert client.get(path).status_code == 401


def test_logout_without_the_csrf_token_is_refused_and_keeps_the_session(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    path = signed_in_page(client, sessions, settings)
    token = csrf_of(client.get(path).text)
    for data in ({}, {"csrf": ""}, {"csrf": token[:-1] + ("x" if token[-1] != "x" else "y")}):
        r = client.post("/logout", data=data)
        assert r.status_code == 403, data
        assert "Sign-out refused" in r.text
        assert client.get(path).status_code == 200
    assert client.post("/logout", data={"csrf": token}).status_code == 200
    assert client.get(path).status_code == 401


def test_a_new_sign_in_revokes_the_previous_session(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    sign_in(client, resource, settings.sso_salt, ts=int(time.time()) - 1)
    old = client.cookies.get(SESSION_COOKIE)
    assert old
    sign_in(client, resource, settings.sso_salt)
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old)
    assert client.get(f"/resources/{resource.id}").status_code == 401


def test_deprovisioning_revokes_its_sessions(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    resource = add_resource(sessions)
    sign_in(client, resource, settings.sso_salt)
    with sessions() as s:
        assert s.scalars(select(WebSession)).all()
    r = client.delete(f"/heroku/resources/{resource.id}", headers=partner_headers())
    assert r.status_code == 204
    with sessions() as s:
        assert s.scalars(select(WebSession)).all() == []
    assert client.get(f"/resources/{resource.id}").status_code in (401, 403)
