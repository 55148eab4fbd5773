"""The service on a real uvicorn, and a real headless Chromium to drive it.

Chromium is Debian's (`scripts/services` installs it); Playwright for Python
drives it through `executable_path`, never its own browser download.
Screenshots go to `test-artifacts/` (gitignored), one folder per test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from guvscale.settings import Settings
from guvscale.web.app import create_app
from tests.fake_heroku.fixtures import FakeHeroku
from tests.fake_heroku.server import FakeHerokuServer
from tests.live_server import LiveServer
from tests.web_fixtures import make_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EXPECTED_STATUS = re.compile(r"^Failed to load resource: .* status of (401|403|422)\b")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@dataclass(frozen=True)
class Live:
    """The running service: its URL, its settings, the test database and the fake Heroku."""

    url: str
    settings: Settings
    sessions: sessionmaker[Session]
    heroku: FakeHeroku


@pytest.fixture(scope="session")
def live_server(
    database_url: str, engine: Engine, fake_heroku_server: FakeHerokuServer
) -> Iterator[tuple[LiveServer, Settings]]:
    server = LiveServer()
    settings = make_settings(
        database_url=database_url,
        heroku_api_url=fake_heroku_server.url,
        heroku_id_url=fake_heroku_server.url,
        public_url=server.url,
    )
    server.start(create_app(settings, engine=engine, run_background=False))
    try:
        yield server, settings
    finally:
        server.stop()


@pytest.fixture
def live(
    live_server: tuple[LiveServer, Settings],
    sessions: sessionmaker[Session],
    fake_heroku: FakeHeroku,
) -> Live:
    server, settings = live_server
    return Live(server.url, settings, sessions, fake_heroku)


@pytest.fixture
def browser() -> Iterator[Any]:
    # Per test, not per session: while Playwright's sync API runs, the main thread
    # has a running event loop, and every later test's asyncio.run() would fail.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Shots:
    """Numbered screenshots of one test, kept under test-artifacts/<test>/."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.count = page, folder, 0

    def __call__(self, name: str) -> Path:
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    # Script errors, CSP refusals and failed assets, for tests to assert none happened.
    # A page answered with a 4xx on purpose (a form with problems) is not one.
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not EXPECTED_STATUS.search(message.text):
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    tab.problems = problems
    yield tab
    context.close()


@pytest.fixture
def shots(page: Any, request: pytest.FixtureRequest) -> Shots:
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    return Shots(page, ARTIFACTS / name)
