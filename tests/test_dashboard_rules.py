"""The rules section over HTTP: save, problems inline, diff, history, restore, dry-run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import Resource, RulesVersion
from guvscale.db.scoping import unscoped
from guvscale.plans import PLANS
from guvscale.rules.types import Role
from guvscale.settings import Settings
from guvscale.web.app import SESSION_COOKIE
from guvscale.web.routes import rules as rules_routes
from tests.factories import add_tenant, csrf_of, sso_fields, sso_v3_token

GOOD = "emails:\n  queue: send-email\n  deadline: 180\n  maximum: 5\n"
BAD = "emails:\n  queue: send-email\n  deadline: soon\n  maximum: 5\n"


def signed_in(client: TestClient, sessions: sessionmaker[Session], settings: Settings) -> str:
    tenant = add_tenant(sessions)
    r = client.post(
        "/heroku/sso", data=sso_fields(tenant, settings.sso_salt), follow_redirects=False
    )
    assert r.status_code == 302
    return tenant.id


def signed_in_with_token(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> tuple[str, str]:
    """A signed-in resource's id and the CSRF token its rules page carries."""
    rid = signed_in(client, sessions, settings)
    return rid, csrf_of(client.get(f"/resources/{rid}/rules").text)


def versions(sessions: sessionmaker[Session], resource_id: str) -> list[str]:
    with sessions() as s:
        unscoped(s)
        rows = s.query(RulesVersion).filter_by(resource_id=resource_id).order_by("version")
        return [r.yaml_text for r in rows]


def test_bad_rules_are_shown_at_their_line_and_not_saved(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    r = client.post(f"/resources/{rid}/rules", data={"rules": BAD, "csrf": token})
    assert r.status_code == 422
    assert "Not saved: 1 problem" in r.text
    line = re.search(
        r'<div class="ln error" id="line-3"[^>]*>.*?</div>\s*'
        r'<div class="note error"[^>]*>(.*?)</div>',
        r.text,
        re.S,
    )
    assert line and "emails.deadline" in line.group(1)
    assert "soon" in r.text  # the draft is kept in the editor
    assert versions(sessions, rid) == []

    r = client.post(
        f"/resources/{rid}/rules", data={"rules": GOOD, "csrf": token}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=1")
    page = client.get(r.headers["location"]).text
    assert "Saved as version 1" in page and "v1" in page
    assert versions(sessions, rid) == [GOOD]


def test_a_token_from_a_revoked_or_replaced_session_is_refused(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    tenant = add_tenant(sessions)
    rid = tenant.id
    forms = [sso_fields(tenant, settings.sso_salt)]
    # A second sign-in a second earlier: a fresh SSO token, not a replay.
    ts = str(int(forms[0]["timestamp"]) - 1)
    token = sso_v3_token(tenant.heroku_uuid, settings.sso_salt, ts)
    forms.append({**forms[0], "timestamp": ts, "resource_token": token})
    assert client.post("/heroku/sso", data=forms[0], follow_redirects=False).status_code == 302
    old_token = csrf_of(client.get(f"/resources/{rid}/rules").text)
    old_cookie = client.cookies.get(SESSION_COOKIE)
    assert old_cookie
    # Signing in again revokes the old server-side session and makes a new token.
    assert client.post("/heroku/sso", data=forms[1], follow_redirects=False).status_code == 302
    new_token = csrf_of(client.get(f"/resources/{rid}/rules").text)
    assert new_token != old_token
    r = client.post(f"/resources/{rid}/rules", data={"rules": GOOD, "csrf": old_token})
    assert r.status_code == 403 and "Form expired" in r.text
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, old_cookie)
    for sent in (old_token, new_token):
        r = client.post(f"/resources/{rid}/rules", data={"rules": GOOD, "csrf": sent})
        assert r.status_code == 401, sent
    # Signing out a revoked session has nothing left to end: it only clears the cookie.
    r = client.post("/logout", data={"csrf": old_token})
    assert r.status_code == 200 and "Signed out" in r.text
    assert versions(sessions, rid) == []


def test_diff_history_and_restore(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    for text in (GOOD, GOOD.replace("maximum: 5", "maximum: 8")):
        r = client.post(f"/resources/{rid}/rules", data={"rules": text, "csrf": token})
        assert r.status_code == 200
    # A rejected draft shows its diff against what is saved.
    r = client.post(f"/resources/{rid}/rules", data={"rules": BAD, "csrf": token})
    assert '<div class="ln added">' in r.text and "deadline: soon" in r.text

    old = client.get(f"/resources/{rid}/rules/versions/1")
    assert old.status_code == 200 and "maximum: 5" in old.text
    assert "maximum: 8" in old.text  # the diff from the rules in force
    r = client.post(f"/resources/{rid}/rules/versions/1/restore", data={"csrf": token})
    assert r.status_code == 200 and "restored from version 1" in r.text
    assert versions(sessions, rid) == [GOOD, GOOD.replace("maximum: 5", "maximum: 8"), GOOD]
    assert client.get(f"/resources/{rid}/rules/versions/9").status_code == 404


def test_every_form_needs_the_sessions_csrf_token(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid = signed_in(client, sessions, settings)
    posts = {
        f"/resources/{rid}/rules": {"rules": GOOD},
        f"/resources/{rid}/rules/preview": {"rules": GOOD},
        f"/resources/{rid}/rules/versions/1/restore": {},
        f"/resources/{rid}/dry-run": {"dry_run": "on"},
        f"/resources/{rid}/setup": {"heroku_token": "x" * 20},
    }
    for path, form in posts.items():
        for token in (None, "forged-token-" + "x" * 30):
            data = dict(form) if token is None else {**form, "csrf": token}
            r = client.post(path, data=data)
            assert r.status_code == 403, path
            assert "Form expired" in r.text
    r = client.post(f"/resources/{rid}/rules/check", json={"rules": GOOD})
    assert r.status_code == 403 and r.json()["id"] == "csrf_refused"
    assert versions(sessions, rid) == []


def test_live_check_answers_problems_without_saving(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    r = client.post(
        f"/resources/{rid}/rules/check", json={"rules": BAD}, headers={"X-CSRF-Token": token}
    )
    assert r.status_code == 200
    (error,) = r.json()["errors"]
    assert (error["role"], error["key"], error["line"]) == ("emails", "deadline", 3)
    assert versions(sessions, rid) == []


def test_dry_run_switch(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    r = client.post(f"/resources/{rid}/dry-run", data={"dry_run": "on", "csrf": token})
    assert r.status_code == 200 and "decisions are recorded, not applied" in r.text
    with sessions() as s:
        resource = s.get(Resource, rid)
        assert resource is not None and resource.dry_run
    r = client.post(f"/resources/{rid}/dry-run", data={"dry_run": "off", "csrf": token})
    assert "Scaling live" in r.text


def test_preview_shows_draft_and_saved_side_by_side(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    client.post(f"/resources/{rid}/rules", data={"rules": GOOD, "csrf": token})
    draft = GOOD.replace("maximum: 5", "maximum: 2")
    r = client.post(f"/resources/{rid}/rules/preview", data={"rules": draft, "csrf": token})
    assert r.status_code == 200
    assert "Preview: draft beside the saved rules" in r.text
    assert "public trace" in r.text  # nothing recorded for this app yet
    assert r.text.count('class="misses"') == 2 and r.text.count('class="dyno-hours"') == 2
    assert "maximum: 2" in r.text  # the draft stays in the editor, unsaved
    assert versions(sessions, rid) == [GOOD]


def test_preview_runs_the_draft_as_the_plan_would(
    client: TestClient,
    sessions: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker polls at the plan's interval and scales its count of roles;
    # the preview simulated the draft's own `pollinterval` (0.1 s: an hour in
    # 36,000 polls, a minute of the web's CPU) and every role it listed.
    seen: dict[str, Mapping[str, Role]] = {}
    real = rules_routes.preview

    def spy(draft: Mapping[str, Role], saved: Mapping[str, Role], *rest: Any) -> Any:
        seen["draft"] = draft
        return real(draft, saved, *rest)

    monkeypatch.setattr(rules_routes, "preview", spy)
    rid, token = signed_in_with_token(client, sessions, settings)
    plan = PLANS["basic"]  # add_tenant's
    draft = "".join(
        f"r{i}:\n  queue: q{i}\n  deadline: 180\n  pollinterval: 0.1\n"
        for i in range(plan.max_process_types + 1)
    )
    r = client.post(f"/resources/{rid}/rules/preview", data={"rules": draft, "csrf": token})
    assert r.status_code == 200
    assert [(name, role.pollinterval) for name, role in seen["draft"].items()] == [
        (f"r{i}", plan.poll_interval_s) for i in range(plan.max_process_types)
    ]


def test_an_empty_draft_is_a_page_saying_so_and_big_rules_save_as_in_the_api(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    # An emptied textarea was a JSON "Field required"; spaces only, a page
    # headed "Not saved: problems" with no problem in it.
    for empty in ({"csrf": token}, {"rules": "  \n", "csrf": token}):
        r = client.post(f"/resources/{rid}/rules", data=empty)
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert "Not saved: 1 problem" in r.text and "the rules are empty" in r.text
    # Rules just under the rules' own limit, as the API saves them: the form
    # encodes each newline and colon in three bytes, and was a JSON 413.
    roles = "".join(f"r{i}:\n  worker: w{i}\n  queue: q{i}\n  deadline: 180\n" for i in range(1200))
    assert 55_000 < len(roles) < 64 * 1024
    r = client.post(
        f"/resources/{rid}/rules", data={"rules": roles, "csrf": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text[:300]
    assert versions(sessions, rid) == [roles]


def test_two_editors_from_one_version_the_second_is_told_not_overwritten(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings
) -> None:
    rid, token = signed_in_with_token(client, sessions, settings)
    client.post(f"/resources/{rid}/rules", data={"rules": GOOD, "csrf": token, "based_on": "0"})
    page = client.get(f"/resources/{rid}/rules").text
    based_on = re.search(r'name="based_on" value="(\d+)"', page)
    assert based_on is not None and based_on.group(1) == "1"
    mine = GOOD.replace("maximum: 5", "maximum: 9")
    theirs = GOOD.replace("deadline: 180", "deadline: 120")
    first = {"rules": mine, "csrf": token, "based_on": "1"}
    assert client.post(f"/resources/{rid}/rules", data=first, follow_redirects=False).is_redirect
    # The second editor, also from version 1: refused, draft kept, and its
    # form now based on version 2, so Save again means to replace it.
    second = {"rules": theirs, "csrf": token, "based_on": "1"}
    r = client.post(f"/resources/{rid}/rules", data=second)
    assert r.status_code == 409
    assert "Not saved: version 2 was saved since you started" in r.text
    assert "deadline: 120" in r.text and 'name="based_on" value="2"' in r.text
    assert versions(sessions, rid) == [GOOD, mine]
    again = {"rules": theirs, "csrf": token, "based_on": "2"}
    assert client.post(f"/resources/{rid}/rules", data=again, follow_redirects=False).is_redirect
    assert versions(sessions, rid) == [GOOD, mine, theirs]
