"""Fixtures shared by the whole suite live in plugin modules, one per concern."""

pytest_plugins = [
    "tests.db_fixtures",
    "tests.web_fixtures",
    "tests.fake_heroku.fixtures",
    "tests.browser_fixtures",
    "tests.rabbitmq_fixtures",
    "tests.worker_fixtures",
    "tests.e2e_fixtures",
]
