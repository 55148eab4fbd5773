"""AMQP 0-9-1 passive queue.declare: the fallback when the management API is down.

It returns only the ready count (not unacknowledged) and the consumer count,
so a busy worker looks idle: callers mark such readings partial and never
scale down on them. Synchronous (pika's BlockingConnection); run it in a
thread from async code.
"""

from __future__ import annotations

import contextlib
import ssl
from urllib.parse import unquote, urlsplit

import pika
import pika.exceptions

from guvscale.rabbitmq.errors import (
    BrokerAuthFailed,
    BrokerError,
    BrokerRefused,
    BrokerUnreachable,
    QueueMissing,
)
from guvscale.rabbitmq.urls import AMQP_SCHEMES, mask_url, public_address, vhost_of
from guvscale.redact import scrub

# AMQP reply codes on a closed channel.
NOT_FOUND = 404
ACCESS_REFUSED = 403


def passive_declare(
    amqp_url: str, queue: str, *, timeout: float, allow_private: bool = True
) -> tuple[int, int]:
    """(ready, consumers) of the queue; raises a BrokerError, never pika's.

    With `allow_private=False` the host is resolved, refused unless every
    address is public, and the connection goes to the address checked.
    """
    params, secrets = _parameters(amqp_url, timeout, allow_private)
    where = mask_url(amqp_url)
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.ProbableAuthenticationError:
        raise BrokerAuthFailed(f"{where}: the broker refused the user and password") from None
    except pika.exceptions.ProbableAccessDeniedError:
        raise BrokerAuthFailed(f"{where}: the user may not use this vhost") from None
    except (pika.exceptions.AMQPError, OSError) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
        raise BrokerUnreachable(f"{where}: cannot connect ({detail})") from None
    try:
        channel = connection.channel()
        frame = channel.queue_declare(queue=queue, passive=True)
        return int(frame.method.message_count), int(frame.method.consumer_count)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == NOT_FOUND:
            raise QueueMissing(
                f"queue {queue!r} not found in vhost {vhost_of(amqp_url)!r}"
            ) from None
        if exc.reply_code == ACCESS_REFUSED:
            raise BrokerAuthFailed(f"{where}: access to queue {queue!r} refused") from None
        raise BrokerError(f"{where}: broker closed the channel ({exc.reply_code})") from None
    except (pika.exceptions.AMQPError, OSError) as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
        raise BrokerUnreachable(f"{where}: {detail}") from None
    finally:
        _close(connection)


def _parameters(
    amqp_url: str, timeout: float, allow_private: bool
) -> tuple[pika.ConnectionParameters, list[str]]:
    try:
        parts = urlsplit(amqp_url.strip())
        port = parts.port
    except ValueError:
        raise BrokerRefused(f"not a valid URL: {mask_url(amqp_url)}") from None
    if parts.scheme not in AMQP_SCHEMES or not parts.hostname:
        raise BrokerRefused(f"not an amqp(s)://host URL: {mask_url(amqp_url)}")
    user = unquote(parts.username or "guest")
    password = unquote(parts.password or "guest")
    tls = parts.scheme == "amqps"
    host = parts.hostname if allow_private else public_address(parts.hostname, port)
    # Query arguments are ignored on purpose: a user-supplied ssl_options could turn
    # certificate checks off.
    params = pika.ConnectionParameters(
        host=host,
        port=port or (5671 if tls else 5672),
        virtual_host=vhost_of(amqp_url),
        credentials=pika.PlainCredentials(user, password),
        ssl_options=(
            # The certificate is checked against the URL's host, whichever address we dial.
            pika.SSLOptions(ssl.create_default_context(), server_hostname=parts.hostname)
            if tls
            else None
        ),
        connection_attempts=1,
        socket_timeout=timeout,
        stack_timeout=timeout,
        blocked_connection_timeout=timeout,
        heartbeat=0,
        client_properties={"connection_name": "guvscale passive declare"},
    )
    return params, [s for s in {password, parts.password or ""} if s]


def _close(connection: pika.BlockingConnection) -> None:
    # The answer is already read; a failed close changes nothing for the caller.
    with contextlib.suppress(pika.exceptions.AMQPError, OSError):
        connection.close()
