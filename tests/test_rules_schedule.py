"""Schedules: day words, and the bounds in force at a fixed moment (Role.bounds_at)."""

from __future__ import annotations

import datetime as dt

import pytest

from guvscale.rules import Role, load
from guvscale.rules.schedule import parse_days

UTC = dt.UTC


@pytest.mark.parametrize(
    ("phrase", "days"),
    [
        ("daily", {1, 2, 3, 4, 5, 6, 7}),
        ("weekdays", {1, 2, 3, 4, 5}),
        ("weekends", {6, 7}),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("Mon - Wed", {1, 2, 3}),
        ("fri-mon", {5, 6, 7, 1}),  # a range may wrap past Sunday
        ("sun", {7}),
        ("Tuesday", {2}),
        ("mon,wed, fri", {1, 3, 5}),
        ("sat-sat", {6}),
    ],
)
def test_day_words(phrase: str, days: set[int]) -> None:
    assert parse_days(phrase) == frozenset(days)


def role_with(schedule: str, *, tz: str = "UTC", extra: str = "") -> Role:
    doc = f"a:\n  min: 1\n  max: 5\n  timezone: {tz}\n{extra}  schedule:\n{schedule}"
    return load(doc)["a"]


OFFICE_PARIS = role_with(
    "    - {days: weekdays, from: '08:00', to: '18:00', min: 3}\n", tz="Europe/Paris"
)
NIGHT_FRIDAY = role_with("    - {days: [fri], from: '22:00', to: '06:00', max: 1}\n")
WEEKENDS_OFF = role_with("    - {days: weekends, from: '00:00', to: '24:00', min: 0, max: 1}\n")
NEW_YORK_MORNING = role_with(
    "    - {days: daily, from: '09:00', to: '17:00', min: 4}\n", tz="America/New_York"
)
FIRST_WINS = role_with(
    "    - {from: '08:00', to: '12:00', min: 2}\n    - {from: '10:00', to: '14:00', min: 4}\n"
)
ABOVE_MAX = role_with("    - {from: '08:00', to: '12:00', min: 8}\n")
EVENING_TO_MIDNIGHT = role_with("    - {from: '18:00', to: '24:00', max: 2}\n")


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("role", "now", "bounds"),
    [
        # 2024-01-08 is a Monday; Paris is UTC+1 in January.
        (OFFICE_PARIS, "2024-01-08T07:30", (3, 5)),  # 08:30 in Paris
        (OFFICE_PARIS, "2024-01-08T06:59", (1, 5)),  # 07:59 in Paris
        (OFFICE_PARIS, "2024-01-08T17:00", (1, 5)),  # 18:00 in Paris: the end is excluded
        (OFFICE_PARIS, "2024-01-13T10:00", (1, 5)),  # Saturday
        (OFFICE_PARIS, "2024-07-08T06:30", (3, 5)),  # 08:30 in summer time (UTC+2)
        # Overnight from Friday 22:00 into Saturday 06:00.
        (NIGHT_FRIDAY, "2024-01-12T21:59", (1, 5)),
        (NIGHT_FRIDAY, "2024-01-12T22:00", (1, 1)),
        (NIGHT_FRIDAY, "2024-01-13T05:59", (1, 1)),  # Saturday morning, started Friday
        (NIGHT_FRIDAY, "2024-01-13T06:00", (1, 5)),
        (NIGHT_FRIDAY, "2024-01-13T23:00", (1, 5)),  # Saturday night: no window
        (NIGHT_FRIDAY, "2024-01-12T03:00", (1, 5)),  # Friday morning: Thursday has none
        # All day on weekends.
        (WEEKENDS_OFF, "2024-01-13T00:00", (0, 1)),
        (WEEKENDS_OFF, "2024-01-14T23:59", (0, 1)),
        (WEEKENDS_OFF, "2024-01-15T00:00", (1, 5)),  # Monday
        # New York: 13:30 UTC is 08:30 in winter (EST) and 09:30 in summer (EDT).
        (NEW_YORK_MORNING, "2024-01-10T13:30", (1, 5)),
        (NEW_YORK_MORNING, "2024-07-10T13:30", (4, 5)),
        # The first matching entry wins.
        (FIRST_WINS, "2024-01-10T11:00", (2, 5)),
        (FIRST_WINS, "2024-01-10T13:00", (4, 5)),
        # A window minimum above the role's maximum lifts the maximum with it.
        (ABOVE_MAX, "2024-01-10T09:00", (8, 8)),
        # "24:00" ends at midnight.
        (EVENING_TO_MIDNIGHT, "2024-01-10T23:59", (1, 2)),
        (EVENING_TO_MIDNIGHT, "2024-01-11T00:00", (1, 5)),
    ],
)
def test_bounds_at(role: Role, now: str, bounds: tuple[int, int]) -> None:
    assert role.bounds_at(at(now)) == bounds


def test_bounds_at_accepts_any_aware_datetime() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert OFFICE_PARIS.bounds_at(dt.datetime(2024, 1, 8, 8, 30, tzinfo=paris)) == (3, 5)
