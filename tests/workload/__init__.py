"""A customer's workload, for real: a consumer dyno's program and a job publisher.

The formation runner (tests/fake_heroku/runner.py) starts consumers as the fake
Heroku's formation changes; tests and bench/burst.py publish with publisher.py.
"""
