"""A fake of Heroku's identity and Platform API endpoints, served over real HTTP.

Tests use the `fake_heroku` fixture (tests/fake_heroku/fixtures.py); developers
can run it standalone: `python -m tests.fake_heroku --port 5001`.
"""
