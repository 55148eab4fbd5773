"""What can go wrong when we read a tenant's broker, as our own exceptions.

Broker URLs carry their password, so every message here is built from masked
URLs and scrubbed of the password (guvscale.redact.scrub): str(error) is safe
to log and to show.
"""

from __future__ import annotations


class BrokerError(Exception):
    """The broker gave no usable answer; `kind` names why, for status pages and metrics."""

    kind = "broker_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BrokerUnreachable(BrokerError):
    """Connection refused, DNS failure, timeout, TLS failure, 5xx or an unreadable answer."""

    kind = "broker_unreachable"


class BrokerAuthFailed(BrokerError):
    """401/403 or AMQP access refused: the URL's user or password is wrong (or rotated)."""

    kind = "broker_auth_failed"


class QueueMissing(BrokerError):
    """No such queue: an error for that role only."""

    kind = "queue_missing"


class VhostMissing(BrokerError):
    """No such virtual host: every role reading this broker is affected."""

    kind = "vhost_missing"


class BrokerRefused(BrokerError):
    """We will not connect: bad scheme, private address, or a redirect off the broker's host."""

    kind = "broker_refused"
