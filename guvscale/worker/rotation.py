"""CloudAMQP rotates passwords: after the broker refused us or could not be
reached, re-read the app's config vars for a new broker URL.

Only for URLs that came from the app's config vars (brokerSource is not
"given"), at most once per REFRESH_EVERY per tenant (remembered in its
memory, so restarts and other workers keep to it too), and never while the
Heroku token is refused or its rate limit spent. The Heroku read is the
synchronous `refresh_broker_url`, run in a thread; what it finds is saved
with `save_credentials` (Context.store_broker) and used at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from guvscale.heroku.errors import HerokuError
from guvscale.rabbitmq import BrokerError
from guvscale.services.credentials import GIVEN, TenantCredentials, refresh_broker_url
from guvscale.worker.pacing import Pacer
from guvscale.worker.queues import Reading
from guvscale.worker.types import TenantJob

if TYPE_CHECKING:
    from guvscale.worker.tenant import Context

log = logging.getLogger(__name__)

REFRESH_EVERY = 300.0  # seconds between two looks at one tenant's config vars
FAILURES = frozenset({"broker_auth_failed", "broker_unreachable"})


def wants_refresh(job: TenantJob, reading: Reading, memory: dict[str, Any], now: float) -> bool:
    cred = job.credentials
    if reading.error_kind not in FAILURES or cred is None:
        return False
    if cred.broker_source in (None, GIVEN) or not cred.heroku_token or not cred.app_id:
        return False
    last = float(memory.get("broker", {}).get("refreshed_at") or 0)
    return now - last >= REFRESH_EVERY


async def refresh(
    ctx: Context, job: TenantJob, pacer: Pacer, memory: dict[str, Any], now: float
) -> TenantCredentials | None:
    """The credentials with the app's new broker URL, saved; None when nothing changed
    (or the look failed: the reason goes to the tenant's `broker.error`)."""
    cred = job.credentials
    assert cred is not None
    kept: dict[str, Any] = memory.setdefault("broker", {})
    if (why := pacer.blocked()) is not None:
        kept["error"] = why.message
        return None
    kept["refreshed_at"] = now
    kept.pop("error", None)
    assert ctx.platform is not None and ctx.store_broker is not None
    platform = ctx.platform()  # its own adapter: it remembers the rate limit it saw
    pacer.counters.heroku_calls += 1
    try:
        found = await asyncio.wait_for(
            asyncio.to_thread(refresh_broker_url, platform, cred, allow_private=ctx.allow_private),
            ctx.timeout + 1,
        )
    except (HerokuError, BrokerError) as exc:
        if isinstance(exc, HerokuError):
            pacer.learn(exc)
        kept["error"] = f"re-reading the broker URL failed: {exc.message}"
        pacer.counters.errors["broker_refresh_failed"] += 1
        return None
    except TimeoutError:
        kept["error"] = "re-reading the broker URL failed: Heroku gave no answer in time"
        pacer.counters.errors["broker_refresh_failed"] += 1
        return None
    finally:
        pacer.saw(platform.last_rate_limit_remaining)
    if found is None:
        return None
    if not await ctx.store_broker(job.resource_id, cred, found):
        return None  # the credentials changed meanwhile: the next tick reads those
    log.info("tenant %s: broker URL re-read from %s", job.resource_id, found.broker_source)
    return found
