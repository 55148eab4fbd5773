"""Setup in Chromium: the token and broker are checked on save, shown masked, never sent back."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser_fixtures import Live, Shots
from tests.factories import LOCAL_BROKER, add_tenant, sso_link


def test_setup_checks_saves_and_masks(live: Live, page: Any, shots: Shots) -> None:
    state = live.heroku.state
    token = state.add_user_token()
    state.add_app("setup-app", {"worker": 0}, owner=state.account_of(token).user_id)
    addon = state.add_addon("setup-app", addon_id=str(uuid.uuid4()), state="provisioned")
    tenant = add_tenant(live.sessions, heroku_uuid=addon.id, app_name="setup-app")
    page.goto(sso_link(live.url, tenant, live.settings.sso_salt))
    page.click("nav.tabs >> text=Setup")
    expect(page.get_by_text("heroku authorizations:create --description GuvScale")).to_be_visible()

    # A wrong token: said plainly, nothing saved, the field marked.
    page.fill("#heroku_token", "not-a-real-token-0000")
    page.click("#save-setup")
    expect(page.locator("#setup-error")).to_be_visible()
    assert page.get_attribute("#heroku_token", "aria-invalid") == "true"
    assert "not-a-real-token" not in page.content()
    expect(page.locator("#in-force")).to_contain_text("not set")
    shots("wrong-token")

    # The right token and the local broker: checked with Heroku and RabbitMQ, saved, masked.
    page.fill("#heroku_token", token)
    page.fill("#broker_url", LOCAL_BROKER)
    page.click("#save-setup")
    expect(page.get_by_text("Checked and saved")).to_be_visible()
    in_force = page.inner_text("#in-force")
    assert "****" + token[-4:] in in_force and "setup-app" in in_force
    assert "guest:guest" not in page.content() and token not in page.content()
    assert page.input_value("#heroku_token") == ""  # never filled back in
    checklist = page.locator(".checklist li.done")
    expect(checklist).to_have_count(2)  # token and broker; rules and first tick to go
    shots("saved")
    assert page.problems == []
