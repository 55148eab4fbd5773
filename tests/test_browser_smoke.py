"""The browser harness itself: Debian's chromium signs in through SSO on a live server."""

from __future__ import annotations

from typing import Any

from tests.browser_fixtures import Live, Shots
from tests.factories import add_tenant, sso_link


def test_sso_sign_in_opens_the_resource_page(live: Live, page: Any, shots: Shots) -> None:
    resource = add_tenant(live.sessions, app_name="smoke-app")
    page.goto(sso_link(live.url, resource, live.settings.sso_salt))
    assert page.url == f"{live.url}/resources/{resource.id}"
    assert page.locator("h1").first.inner_text() == "smoke-app-guvscale"
    assert "dev@example.com" in page.content()
    assert shots("signed-in").stat().st_size > 0
    assert page.problems == []
