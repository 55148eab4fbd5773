"""Broker URLs: where the management API lives, which vhost, masking, and safety.

Broker URLs are user input. Outside development we refuse any that resolve to
a private, loopback or link-local address, so a tenant cannot point our worker
at our own network (SSRF).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, quote, unquote, urlsplit, urlunsplit

from guvscale.rabbitmq.errors import BrokerRefused, BrokerUnreachable

AMQP_SCHEMES = ("amqp", "amqps")
HTTP_SCHEMES = ("http", "https")
MASK = "****"
# RabbitMQ's management plugin listens here when the broker serves plain AMQP.
LOCAL_MANAGEMENT_PORT = 15672


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise BrokerRefused(f"not a valid URL: {mask_url(url)}") from None
    return parts


def mask_url(url: str) -> str:
    """The URL with its password replaced, safe for logs, errors and answers."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    # The authority ends at the first "/", "?" or "#" after the last "@".
    at = rest.rfind("@")
    if at < 0:
        return url
    userinfo, tail = rest[:at], rest[at:]
    if ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}{tail}"


def password_of(url: str) -> str | None:
    """The password in the URL, as written and decoded, for scrubbing error text."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return password


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names; no path (or just "/") means RabbitMQ's "/"."""
    path = _split(amqp_url).path
    vhost = unquote(path[1:]) if path.startswith("/") else unquote(path)
    return vhost or "/"


def management_url_for(amqp_url: str) -> str:
    """The management API base URL, with the AMQP URL's user and password.

    `amqps://u:p@host/vhost` -> `https://u:p@host` (CloudAMQP serves it on the
    broker's host over HTTPS); `amqp://u:p@host:5672/vhost` ->
    `http://u:p@host:15672`. The client appends `/api/...`.
    """
    parts = _split(amqp_url)
    if parts.scheme not in AMQP_SCHEMES:
        raise BrokerRefused(f"not an amqp:// or amqps:// URL: {mask_url(amqp_url)}")
    if not parts.hostname:
        raise BrokerRefused(f"the URL names no host: {mask_url(amqp_url)}")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.scheme == "amqps":
        scheme, hostport = "https", host
    else:
        scheme, hostport = "http", f"{host}:{LOCAL_MANAGEMENT_PORT}"
    userinfo = ""
    if parts.username is not None:
        userinfo = quote(unquote(parts.username), safe="")
        if parts.password is not None:
            userinfo += ":" + quote(unquote(parts.password), safe="")
        userinfo += "@"
    return urlunsplit((scheme, userinfo + hostport, "", "", ""))


def check_broker_url(url: str, *, allow_private: bool) -> None:
    """Raise BrokerRefused unless we may connect to this URL.

    Schemes: amqp, amqps, http, https. Unless `allow_private`, the host is
    resolved and every address it resolves to must be public.
    """
    parts = _split(url)
    if parts.scheme not in AMQP_SCHEMES + HTTP_SCHEMES:
        raise BrokerRefused(
            f"scheme {parts.scheme or '(none)'!r} is not allowed: use amqp, amqps, http or https"
        )
    host = parts.hostname
    if not host:
        raise BrokerRefused(f"the URL names no host: {mask_url(url)}")
    if not allow_private:
        public_address(host, parts.port)


def public_address(host: str, port: int | None) -> str:
    """An address of `host` to connect to, when every address it resolves to is public.

    Connecting to the address checked (not resolving again) is what keeps a
    host that re-resolves to a private address between check and connect
    (DNS rebinding) from reaching inside. Blocking: resolves the name.
    """
    addresses = _addresses(host, port)
    for address in addresses:
        if not is_public(address):
            raise BrokerRefused(
                f"host {host} resolves to {address}, a private, loopback or link-local "
                "address; brokers must be reachable on the public internet"
            )
    return addresses[0]


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _addresses(host: str, port: int | None) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise BrokerUnreachable(f"cannot resolve host {host}") from None
    # In the resolver's order of preference, each once.
    found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not found:
        raise BrokerUnreachable(f"cannot resolve host {host}")
    return found


def with_login_of(url: str, amqp_url: str) -> str:
    """`url` with the AMQP URL's user and password when it has none of its own.

    CloudAMQP's management API takes the same login as AMQP, so a management
    URL pasted without one keeps working after a password rotation.
    """
    parts, login = _split(url), _split(amqp_url)
    if parts.username is not None or login.username is None:
        return url
    userinfo = login.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))
