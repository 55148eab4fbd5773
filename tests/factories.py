"""Test data, in one place: every test builds resources, rules, credentials
and observations from here rather than importing another test module."""
