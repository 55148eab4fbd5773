"""Adapter for a tenant's RabbitMQ: queue statistics over the management API or AMQP.

Beside `guvscale/heroku/`: callers inject the HTTP client; every failure comes
out as a BrokerError subclass whose text never holds a password.
"""

from guvscale.rabbitmq.amqp import passive_declare
from guvscale.rabbitmq.errors import (
    BrokerAuthFailed,
    BrokerError,
    BrokerRefused,
    BrokerUnreachable,
    QueueMissing,
    VhostMissing,
)
from guvscale.rabbitmq.management import ManagementClient
from guvscale.rabbitmq.stats import QueueStats
from guvscale.rabbitmq.urls import (
    check_broker_url,
    management_url_for,
    mask_url,
    vhost_of,
    with_login_of,
)

__all__ = [
    "BrokerAuthFailed",
    "BrokerError",
    "BrokerRefused",
    "BrokerUnreachable",
    "ManagementClient",
    "QueueMissing",
    "QueueStats",
    "VhostMissing",
    "check_broker_url",
    "management_url_for",
    "mask_url",
    "passive_declare",
    "vhost_of",
    "with_login_of",
]
