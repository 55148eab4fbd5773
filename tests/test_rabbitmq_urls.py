"""Broker URL helpers: management URL derivation, vhosts, masking and the SSRF guard."""

from __future__ import annotations

import pytest

from guvscale.rabbitmq import (
    BrokerRefused,
    BrokerUnreachable,
    check_broker_url,
    management_url_for,
    mask_url,
    vhost_of,
    with_login_of,
)
from guvscale.rabbitmq.urls import is_public


@pytest.mark.parametrize(
    ("amqp", "management"),
    [
        ("amqps://u:p@host.cloudamqp.com/vh", "https://u:p@host.cloudamqp.com"),
        ("amqps://u:p@host.cloudamqp.com:5671/vh", "https://u:p@host.cloudamqp.com"),
        ("amqp://u:p@rabbit.example:5672/vh", "http://u:p@rabbit.example:15672"),
        ("amqp://u:p@rabbit.example/vh", "http://u:p@rabbit.example:15672"),
        ("amqp://guest:guest@127.0.0.1:5672/%2F", "http://guest:guest@127.0.0.1:15672"),
        ("amqp://rabbit.example", "http://rabbit.example:15672"),
        ("amqp://u:p%40ss%2Fw@[::1]:5672/", "http://u:p%40ss%2Fw@[::1]:15672"),
    ],
)
def test_management_url_is_derived_from_the_amqp_url(amqp: str, management: str) -> None:
    assert management_url_for(amqp) == management


@pytest.mark.parametrize("url", ["https://host/api", "redis://u:p@host", "amqp://:5672/x"])
def test_management_url_needs_an_amqp_url_with_a_host(url: str) -> None:
    with pytest.raises(BrokerRefused):
        management_url_for(url)


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqps://u:p@host/appvhost", "appvhost"),
        ("amqp://u:p@host:5672/%2F", "/"),
        ("amqp://u:p@host:5672/", "/"),
        ("amqp://u:p@host:5672", "/"),
        ("amqp://u:p@host/a%2Fb", "a/b"),
    ],
)
def test_vhost_of(url: str, vhost: str) -> None:
    assert vhost_of(url) == vhost


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("amqps://user:s3cret@host/vh", "amqps://user:****@host/vh"),
        ("https://user:s3cret@host:443/api", "https://user:****@host:443/api"),
        ("amqp://user@host/vh", "amqp://user@host/vh"),
        ("amqp://host/vh", "amqp://host/vh"),
        ("amqp://u:p@ss@host/vh", "amqp://u:****@host/vh"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url_replaces_only_the_password(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "url",
    [
        "amqp://u:p@127.0.0.1/vh",
        "amqp://u:p@localhost/vh",
        "amqps://u:p@10.1.2.3/vh",
        "amqps://u:p@192.168.0.9/vh",
        "amqps://u:p@172.16.5.5/vh",
        "http://u:p@169.254.169.254/latest",
        "https://u:p@[::1]:15672",
        "https://u:p@[fe80::1]:15672",
        "https://u:p@[::ffff:127.0.0.1]:15672",
        "amqp://u:p@0.0.0.0/vh",
    ],
)
def test_private_addresses_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(BrokerRefused) as caught:
        check_broker_url(url, allow_private=False)
    assert "p@" not in str(caught.value)
    check_broker_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["redis://u:p@host/0", "file:///etc/passwd", "gopher://host", "host:5672", "amqp:///vh"]
)
def test_other_schemes_and_hostless_urls_are_refused_even_in_development(url: str) -> None:
    with pytest.raises(BrokerRefused):
        check_broker_url(url, allow_private=True)


def test_public_literal_addresses_pass() -> None:
    check_broker_url("amqps://u:p@8.8.8.8/vh", allow_private=False)
    check_broker_url("https://u:p@[2606:4700:4700::1111]/", allow_private=False)


def test_an_unresolvable_host_is_unreachable_not_refused() -> None:
    with pytest.raises(BrokerUnreachable, match="cannot resolve"):
        check_broker_url("amqps://u:p@no-such-host.invalid/vh", allow_private=False)


@pytest.mark.parametrize(
    ("address", "public"),
    [("8.8.8.8", True), ("100.64.0.1", False), ("224.0.0.1", False), ("fe80::1%eth0", False)],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(address) is public


@pytest.mark.parametrize(
    ("url", "amqp", "expected"),
    [
        ("https://host/prefix", "amqps://u:p@host/vh", "https://u:p@host/prefix"),
        ("https://me:mine@host", "amqps://u:p@host/vh", "https://me:mine@host"),
        ("http://host:15672", "amqp://host/vh", "http://host:15672"),
    ],
)
def test_a_management_url_without_a_login_borrows_the_brokers(
    url: str, amqp: str, expected: str
) -> None:
    assert with_login_of(url, amqp) == expected
