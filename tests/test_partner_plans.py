"""Plans, regions, the config token scheme and the background service: pure parts."""

from __future__ import annotations

import itertools
import threading

import pytest

from guvscale.errors import Unprocessable
from guvscale.jobs.service import PollingService
from guvscale.plans import PLANS, accepted_regions, get_plan, normalise_region
from guvscale.services.config_vars import ConfigIssuer, token_hash


def test_plans_grow_in_scope_and_poll_faster() -> None:
    assert list(PLANS) == ["test", "basic", "standard", "performance"]
    assert PLANS["test"].free and not PLANS["basic"].free
    plans = list(PLANS.values())
    for smaller, larger in itertools.pairwise(plans):
        assert larger.max_process_types > smaller.max_process_types
        assert larger.poll_interval_s < smaller.poll_interval_s
        assert larger.price_usd_month > smaller.price_usd_month


def test_unknown_plan_names_itself_and_the_choices() -> None:
    with pytest.raises(Unprocessable) as caught:
        get_plan("gold")
    assert caught.value.where == "plan"
    assert "'gold'" in caught.value.message and "performance" in caught.value.message


@pytest.mark.parametrize(
    "given, stored",
    [
        ("us", "amazon-web-services::us-east-1"),
        ("EU", "amazon-web-services::eu-west-1"),
        ("virginia", "amazon-web-services::us-east-1"),
        ("oregon", "amazon-web-services::us-west-2"),
        ("frankfurt", "amazon-web-services::eu-central-1"),
        ("amazon-web-services::ca-central-1", "amazon-web-services::ca-central-1"),
        (" amazon-web-services::eu-west-2 ", "amazon-web-services::eu-west-2"),
    ],
)
def test_regions_normalise_to_the_v3_form(given: str, stored: str) -> None:
    assert normalise_region(given) == stored


@pytest.mark.parametrize("given", ["", "moon", "aws::us-east-1", "amazon-web-services::", "us::x"])
def test_unknown_region_is_refused(given: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        normalise_region(given)
    assert caught.value.where == "region"
    assert repr(given) in caught.value.message
    for accepted in ("us", "eu", "amazon-web-services::us-east-1"):
        assert accepted in caught.value.message
    assert all(normalise_region(r) for r in accepted_regions())


def test_tokens_are_derived_per_id_and_key() -> None:
    issuer = ConfigIssuer("key-one", "https://guvscale.example.com/")
    config = issuer.config_for("gvs-0123456789abcdef")
    assert config["GUVSCALE_ID"] == "gvs-0123456789abcdef"
    assert config["GUVSCALE_URL"] == "https://guvscale.example.com"
    token = config["GUVSCALE_TOKEN"]
    assert issuer.token_for("gvs-0123456789abcdef") == token  # stable: repeats re-derive it
    assert len(token) == 43  # 32 bytes, url-safe base64
    assert issuer.token_for("gvs-0123456789abcdee") != token
    assert ConfigIssuer("key-two", "x").token_for("gvs-0123456789abcdef") != token
    assert len(token_hash(token)) == 64 and token not in token_hash(token)
    assert "key-one" not in repr(issuer)


def test_polling_service_runs_until_stopped() -> None:
    rounds = threading.Semaphore(0)

    def work() -> None:
        rounds.release()
        raise RuntimeError("a failing round must not end the loop")

    service = PollingService("test-poller", work, interval=0.01)
    service.start()
    assert rounds.acquire(timeout=10) and rounds.acquire(timeout=10)
    assert service.running
    service.stop()
    assert not service.running
