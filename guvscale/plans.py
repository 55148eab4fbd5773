"""What we sell and where: the add-on's plans and the Heroku regions we accept.

Pure values. A plan bounds how many process types one add-on scales and how
often its queues are polled (the poll is our main running cost).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from guvscale.errors import Unprocessable
from guvscale.rules.types import Role


@dataclass(frozen=True)
class Plan:
    name: str
    price_usd_month: int
    max_process_types: int
    poll_interval_s: int

    @property
    def free(self) -> bool:
        return self.price_usd_month == 0

    def scales(self, roles: Iterable[Role]) -> tuple[list[Role], list[str]]:
        """The roles this plan scales, as the worker runs them: polled at the
        plan's interval, not the rules' `pollinterval` (the model plans with
        the interval it really gets); and the names of the roles past the
        plan's count, which are not scaled."""
        poll = float(self.poll_interval_s)
        resolved = [dataclasses.replace(r, pollinterval=poll) for r in roles]
        limit = self.max_process_types
        return resolved[:limit], [r.name for r in resolved[limit:]]


PLANS: dict[str, Plan] = {
    plan.name: plan
    for plan in (
        Plan("test", price_usd_month=0, max_process_types=1, poll_interval_s=60),
        Plan("basic", price_usd_month=9, max_process_types=3, poll_interval_s=30),
        Plan("standard", price_usd_month=29, max_process_types=10, poll_interval_s=15),
        Plan("performance", price_usd_month=99, max_process_types=50, poll_interval_s=10),
    )
}


def plan_of(name: str | None) -> Plan:
    """The plan by name; one this release does not sell runs as the test plan."""
    return PLANS.get(name or "", PLANS["test"])


# Heroku's v3 partner API names a region `<provider>::<provider region>`. These are
# the provider regions the Platform API schema lists (definitions.region.provider).
PROVIDER = "amazon-web-services"
PROVIDER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
)

# Heroku's own region names (older senders, manifests): the two Common Runtime
# regions and the Private Spaces regions, with the provider region they run in.
HEROKU_REGION_NAMES = {
    "us": "us-east-1",
    "eu": "eu-west-1",
    "virginia": "us-east-1",
    "oregon": "us-west-2",
    "montreal": "ca-central-1",
    "dublin": "eu-west-1",
    "london": "eu-west-2",
    "frankfurt": "eu-central-1",
    "mumbai": "ap-south-1",
    "singapore": "ap-southeast-1",
    "sydney": "ap-southeast-2",
    "tokyo": "ap-northeast-1",
}


def get_plan(name: str) -> Plan:
    """The plan called `name`; 422 naming it and the plans we have otherwise."""
    plan = PLANS.get(name)
    if plan is None:
        raise Unprocessable(
            f"unknown plan {name!r}; plans are: {', '.join(PLANS)}",
            where="plan",
        )
    return plan


def accepted_regions() -> list[str]:
    return [f"{PROVIDER}::{r}" for r in PROVIDER_REGIONS] + list(HEROKU_REGION_NAMES)


_SPACES = " \t\r\n"


def _any_case(text: str) -> str:
    # Spelled out per letter, so the pattern means the same in Python and in
    # the ECMA regexes JSON Schema uses (no flags, no escapes needed).
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in text)


def region_pattern() -> str:
    """A regex for exactly the values normalise_region accepts."""
    names = "|".join(_any_case(name) for name in accepted_regions())
    return f"^[ \\t\\r\\n]*({names})[ \\t\\r\\n]*$"


def normalise_region(value: str) -> str:
    """The v3 form (`amazon-web-services::us-east-1`) of any region we accept.

    Stored in one form so `us` and `amazon-web-services::us-east-1` are the
    same place; 422 naming the value and every accepted one otherwise.
    """
    # ASCII only: str.lower() would turn the Kelvin sign into "k" and strip()
    # takes Unicode spaces, accepting text no listed region matches
    # (region_pattern(), which the OpenAPI schema gives, says exactly this).
    name = value.strip(_SPACES)
    if not name.isascii():
        name = ""
    name = name.lower()
    provider, sep, region = name.partition("::")
    if sep and provider == PROVIDER and region in PROVIDER_REGIONS:
        return f"{PROVIDER}::{region}"
    if not sep and name in HEROKU_REGION_NAMES:
        return f"{PROVIDER}::{HEROKU_REGION_NAMES[name]}"
    raise Unprocessable(
        f"unknown region {value!r}; regions are: {', '.join(accepted_regions())}",
        where="region",
    )
