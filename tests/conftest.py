"""Fixtures shared by the whole suite live in plugin modules, one per concern."""

pytest_plugins = [
    "tests.fake_heroku.fixtures",
]
