"""Heroku dyno list prices, for the dashboard's cost estimate. Pure values.

Heroku bills dynos by the second up to a monthly cap; a dyno running all
month costs the monthly price. The hourly figure is that price over 720 h,
so an estimate never exceeds what a month would cost. Eco dynos share one
$5 pool of hours across the account: one Eco dyno-hour is counted as if it
were alone in the pool, which is an upper bound. Private and Shield dynos
are priced per contract and have no list price here.
"""

from __future__ import annotations

HOURS_PER_MONTH = 720

MONTHLY_USD: dict[str, float] = {
    "eco": 5,
    "basic": 7,
    "standard-1x": 25,
    "standard-2x": 50,
    "performance-m": 250,
    "performance-l": 500,
    "performance-l-ram": 500,
    "performance-xl": 750,
    "performance-2xl": 1500,
}


def hourly_usd(dynosize: str) -> float | None:
    """Dollars per dyno-hour of this size, or None when it has no list price."""
    monthly = MONTHLY_USD.get(dynosize.lower())
    return None if monthly is None else monthly / HOURS_PER_MONTH
