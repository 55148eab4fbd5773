"""pytest fixtures for the fake Heroku: one server per session, fresh state per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.fake_heroku.server import FakeHerokuServer
from tests.fake_heroku.state import FakeState


@dataclass(frozen=True)
class FakeHeroku:
    """What a test gets: the base URL (serves id.heroku.com and api.heroku.com) and the state."""

    url: str
    state: FakeState

    @property
    def api_url(self) -> str:
        return self.url

    @property
    def id_url(self) -> str:
        return self.url


@pytest.fixture(scope="session")
def fake_heroku_server() -> Iterator[FakeHerokuServer]:
    with FakeHerokuServer() as server:
        yield server


@pytest.fixture
def fake_heroku(fake_heroku_server: FakeHerokuServer) -> Iterator[FakeHeroku]:
    state = fake_heroku_server.state
    state.reset()
    yield FakeHeroku(url=fake_heroku_server.url, state=state)
    state.reset()
