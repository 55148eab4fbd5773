"""The dashboard in a real headless Chromium, as a user goes through it.

Sign in by SSO -> save rules with an error -> see it at its line -> fix ->
save -> preview -> graphs drawn from recorded samples -> restore an older
version. Screenshots of each step are kept under test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from playwright.sync_api import expect

from tests.browser_fixtures import Live, Shots
from tests.factories import add_tenant, record_event, record_samples, sso_link

FIRST = """emails:
  queue: send-email
  deadline: 180
  minimum: 0
  maximum: 5
  concurrency: 10
  processing: 0.3
"""


def test_a_user_tunes_rules_previews_watches_and_restores(
    live: Live, page: Any, shots: Shots
) -> None:
    tenant = add_tenant(live.sessions, app_name="shop-app")
    page.goto(sso_link(live.url, tenant, live.settings.sso_salt))
    assert page.url.endswith(f"/resources/{tenant.id}")
    expect(page.get_by_text("Getting started")).to_be_visible()
    shots("signed-in")

    # Save rules with a mistake: the problem appears at its line, nothing saved.
    page.click("nav.tabs >> text=Rules")
    page.fill("#rules", FIRST.replace("deadline: 180", "deadline: 3 minutes"))
    page.click("#save")
    note = page.locator(".annotated .note.error")
    expect(note).to_have_count(1)
    assert "line 3" in note.inner_text() and "emails.deadline" in note.inner_text()
    assert page.locator("#line-3").get_attribute("class") == "ln error"
    expect(page.get_by_text("Not saved: 1 problem")).to_be_visible()
    shots("error-inline")

    # The live check (the page's own script) lists it too, as you type.
    page.fill("#rules", FIRST.replace("maximum: 5", "maximum: five"))
    page.wait_for_selector("#live-check .note.error")
    assert "emails.maximum" in page.inner_text("#live-check")

    # Fix and save: version 1.
    page.fill("#rules", FIRST)
    page.click("#save")
    expect(page.get_by_text("Saved as version 1")).to_be_visible()
    shots("saved-v1")

    # A second version, then preview a third draft beside it.
    page.fill("#rules", FIRST.replace("maximum: 5", "maximum: 8"))
    page.click("#save")
    expect(page.get_by_text("Saved as version 2")).to_be_visible()
    page.fill("#rules", FIRST.replace("maximum: 5", "maximum: 2"))
    page.click("#preview")
    page.wait_for_selector("#preview-results")
    assert page.locator(".side.draft .misses").count() == 1
    assert page.locator(".side.saved .dyno-hours").count() == 1
    assert page.locator("#preview-emails svg.chart path.series").count() == 2
    shots("preview")

    # Graphs from what the worker recorded.
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    rows = [
        {
            "at": now - dt.timedelta(minutes=40 - i),
            "ready": [0, 40, 400, 120, 5][i // 8],
            "unacked": 10 if i > 8 else 0,
            "publish_rate": [0.5, 8.0, 30.0, 4.0, 1.0][i // 8],
            "ack_rate": [0.5, 6.0, 20.0, 12.0, 1.0][i // 8],
            "current": [0, 1, 4, 4, 1][i // 8],
            "desired": [0, 2, 4, 2, 1][i // 8],
        }
        for i in range(40)
    ]
    record_samples(live.sessions, tenant, "emails", rows)
    record_event(
        live.sessions,
        tenant,
        role="emails",
        at=now - dt.timedelta(minutes=24),
        from_quantity=1,
        to_quantity=4,
        reason="scaling up 1 → 4: backlog 400 needs 4 dynos",
    )
    page.click("nav.tabs >> text=Graphs")
    page.click("nav.ranges >> text=1h")
    page.wait_for_url("**/graphs?range=1h")
    expect(page.locator("#role-emails svg.chart")).to_have_count(3)
    assert page.locator("#role-emails path.series").count() == 6
    assert page.locator("#role-emails g.marker").count() == 3  # one per chart
    box = page.locator("#role-emails svg.chart").first.bounding_box()
    assert box is not None and box["width"] > 300
    shots("graphs")

    # Readable on a phone: the charts shrink to the screen, nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390
    shots("graphs-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("nav.tabs >> text=Decision log")
    expect(page.get_by_text("scaling up 1 → 4")).to_be_visible()
    page.click("nav.tabs >> text=Cost")
    expect(page.locator("table.cost tbody tr")).to_have_count(1)
    shots("cost")

    # Restore version 1 from the history.
    page.click("nav.tabs >> text=Rules")
    page.click("button.restore[data-version='1']")
    expect(page.get_by_text("Saved as version 3 (restored from version 1)")).to_be_visible()
    assert page.input_value("#rules") == FIRST
    shots("restored")
    assert page.problems == []  # no script error, no CSP refusal on any page
