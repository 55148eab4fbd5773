"""One tenant's tick: read queues, read formations, decide, apply, record.

Every network call has its own timeout, and the whole tick runs under the
tenant's budget (run.py), so a slow tenant delays nobody else. Missing or
partial data never lowers a formation: the decision is held at least at
the current quantity.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from guvscale.clock import epoch
from guvscale.heroku.errors import (
    HerokuAuthError,
    HerokuError,
    HerokuNotFound,
    HerokuRateLimited,
    HerokuRejected,
)
from guvscale.heroku.platform import Formation, HerokuPlatform
from guvscale.heroku.platform_async import Answer, AsyncHerokuPlatform
from guvscale.rules.types import Role
from guvscale.scaling import Observation, Scaler
from guvscale.services.credentials import TenantCredentials
from guvscale.worker import formation as fm
from guvscale.worker import rotation
from guvscale.worker.amqp_threads import AmqpThreads
from guvscale.worker.pacing import PaceBook, Pacer, Paused
from guvscale.worker.queues import Reading, read
from guvscale.worker.rates import counter_rate
from guvscale.worker.types import Claim, Counters, EventRow, TenantJob, TenantResult

Fence = Callable[[Claim, list[EventRow], dict[str, Any]], Awaitable[list[int] | None]]
# (tenant, credentials the tick used, new ones) -> saved (False: they changed meanwhile)
StoreBroker = Callable[[str, TenantCredentials, TenantCredentials], Awaitable[bool]]
log = logging.getLogger(__name__)
FORMATION_TTL = 180.0  # seconds a formation read is trusted without a change of ours
_LIMIT_TYPE = re.compile(r"process type ([-\w]+)")


@dataclass
class Context:
    heroku: AsyncHerokuPlatform
    http: httpx.AsyncClient  # for the management API
    fence: Fence
    amqp: AmqpThreads  # the fallback's passive declares
    timeout: float  # every network call
    allow_private: bool = False  # ALLOW_PRIVATE_BROKERS
    dry_run: bool = False  # the worker's --dry-run: decide and record, never apply
    rng: random.Random = field(default_factory=random.Random)
    # A fresh sync adapter per use (it remembers the headers it saw), for the broker re-read.
    platform: Callable[[], HerokuPlatform] | None = None
    store_broker: StoreBroker | None = None  # set by the Worker, like fence
    pacing: PaceBook = field(default_factory=PaceBook)  # per token, shared by its tenants


@dataclass
class Progress:
    """Shared with the caller, so a tick cut short by its budget can still be closed."""

    pending: list[int] = field(default_factory=list)


@dataclass
class _Role:
    role: Role
    status: dict[str, Any]
    app: str
    current: int | None = None
    desired: int | None = None
    reason: str = ""


async def tick(
    job: TenantJob, ctx: Context, now: dt.datetime, deadline: float, progress: Progress
) -> TenantResult:
    memory = _copied(job.claim.memory)  # the claim's stays as loaded, for a tick cut short
    result = TenantResult(
        job.resource_id, job.claim.epoch, next_due(job, now), memory, {"error": None, "roles": []}
    )
    counters = result.counters
    if job.claim.took_over:
        counters.takeovers += 1
        for cached in memory.get("formation", {}).values():
            cached["stale"] = True  # the last owner may have scaled without recording it
    if job.error:
        result.status["error"] = job.error
        counters.errors["tenant_unreadable"] += 1
        return result
    if not job.app:
        result.status["error"] = "the add-on's app is not known yet (save credentials)"
        counters.errors["no_app"] += 1
        return result

    read_at = dt.datetime.now(dt.UTC)
    pacer = Pacer(
        memory,
        job.token or "",
        counters,
        now=epoch(read_at),
        deadline=deadline,
        rng=ctx.rng,
        book=ctx.pacing,
    )
    reading = await _read(ctx, job, job.credentials, deadline)
    if rotation.wants_refresh(job, reading, memory, epoch(read_at)) and ctx.platform:
        rotated = await rotation.refresh(ctx, job, pacer, memory, epoch(read_at))
        if rotated is not None:
            job.credentials = rotated
            read_at = dt.datetime.now(dt.UTC)
            reading = await _read(ctx, job, rotated, deadline)
    if reading.error_kind:
        counters.errors[reading.error_kind] += 1
    roles = [_Role(r, _status(r, job.app), r.app or job.app) for r in job.roles]
    quantities = await _formations(ctx, pacer, memory, {x.app for x in roles}, read_at)
    for x in roles:
        _decide(x, job, memory, reading, quantities.get(x.app), read_at, counters)
        if x.desired is not None:
            counters.decisions += 1
    # Roles dropped from the rules take their memory with them.
    remembered = memory.get("roles", {})
    memory["roles"] = {
        x.role.name: remembered[x.role.name] for x in roles if x.role.name in remembered
    }
    for name in job.beyond_plan:
        result.status["roles"].append(
            {
                "role": name,
                "error": f"beyond the {job.plan.name} plan's "
                f"{job.plan.max_process_types} process type(s); not scaled",
            }
        )
    await _apply(ctx, job, pacer, memory, roles, quantities, read_at, result, progress)
    if pacer.invalid:
        result.status["error"] = f"Heroku refused the token: {pacer.invalid}"
    elif reading.error and not reading.stats:
        result.status["error"] = reading.error
        if why := memory.get("broker", {}).get("error"):
            result.status["error"] += f" ({why})"
    result.status["roles"][:0] = [x.status for x in roles]
    result.samples = [_sample(x, job, reading, read_at) for x in roles if x.role.name in job.series]
    return result


async def _read(
    ctx: Context, job: TenantJob, cred: TenantCredentials | None, deadline: float
) -> Reading:
    return await read(
        ctx.http,
        cred.broker_url if cred else None,
        cred.management_url if cred else None,
        sorted({r.queue for r in job.roles}),
        timeout=ctx.timeout,
        passive_declare=ctx.amqp.for_tenant(job.resource_id),
        allow_private=ctx.allow_private,
        deadline=deadline,
    )


def next_due(job: TenantJob, now: dt.datetime) -> dt.datetime:
    """Keep the cadence of the plan's interval; after a long stall, start afresh from now."""
    interval = dt.timedelta(seconds=job.plan.poll_interval_s)
    due = job.claim.due_at + interval
    return due if due > now else now + interval


def _status(role: Role, app: str) -> dict[str, Any]:
    return {
        "role": role.name,
        "queue": role.queue,
        "app": role.app or app,
        "processTypes": list(fm.types_of(role)),
        "ready": None,
        "unacked": None,
        "consumers": None,
        "publishRate": None,
        "ackRate": None,
        "current": None,
        "desired": None,
        "reason": None,
        "observedAt": None,
        "partial": False,
        "error": None,
    }


async def _formations(
    ctx: Context, pacer: Pacer, memory: dict[str, Any], apps: set[str], at: dt.datetime
) -> dict[str, dict[str, int] | str]:
    """Quantities per app (cached), or why they are unknown."""
    cache: dict[str, Any] = memory.setdefault("formation", {})
    found: dict[str, dict[str, int] | str] = {}
    for app in sorted(apps):
        cached = cache.get(app)
        if cached is not None and fresh(cached, epoch(at)):
            found[app] = dict(cached["types"])
            continue

        def list_it(app: str = app) -> Awaitable[Answer[list[Formation]]]:
            return ctx.heroku.list_formation(pacer.token, app)

        try:
            listed = await pacer.call(
                list_it, optional=cached is not None and not cached.get("stale")
            )
        except Paused as why:
            found[app] = dict(cached["types"]) if cached and why.kind == "rate_low" else why.message
            continue
        except HerokuNotFound:
            found[app] = f"Heroku has no app {app!r} this token can reach"
            cache.pop(app, None)
            continue
        except HerokuError as exc:
            found[app] = f"cannot read the formation: {exc.message}"
            continue
        types = {f.type: f.quantity for f in listed.value}
        cache[app] = {"read_at": epoch(at), "ttl": trusted_for(ctx.rng), "types": types}
        found[app] = dict(types)
    return found


def trusted_for(rng: random.Random) -> float:
    """Seconds a formation read is trusted: drawn per read from the last quarter of
    FORMATION_TTL, so tenants that started together (a deploy, a takeover) do not
    all re-read Heroku in the same tick every few minutes."""
    return round(FORMATION_TTL * (0.75 + 0.25 * rng.random()), 1)


def fresh(cached: dict[str, Any], now: float) -> bool:
    """May a cached formation read stand in for Heroku's at `now`?"""
    age = now - float(cached.get("read_at", 0))
    return not cached.get("stale") and age < float(cached.get("ttl", FORMATION_TTL))


def _decide(
    x: _Role,
    job: TenantJob,
    memory: dict[str, Any],
    reading: Reading,
    quantities: dict[str, int] | str | None,
    at: dt.datetime,
    counters: Counters,
) -> None:
    role, status = x.role, x.status
    kept: dict[str, Any] = memory.setdefault("roles", {}).setdefault(role.name, {})
    stats = reading.stats.get(role.queue)
    t = epoch(at)
    errors: list[str] = []
    if isinstance(quantities, str) or quantities is None:
        errors.append(quantities or "formation unknown")
    else:
        if missing := fm.missing_types(role, quantities):
            errors.append(f"no process type {', '.join(missing)} in app {x.app}")
        else:
            x.current = fm.current_of(role, quantities)
    ready = unacked = consumers = None
    publish_rate = ack_rate = None
    if stats is None:
        errors.append(reading.errors.get(role.queue) or reading.error or "no queue statistics")
        if role.queue in reading.errors:
            counters.errors["queue_missing"] += 1
    else:
        ready, consumers = stats.ready, stats.consumers
        if not stats.partial:
            unacked = stats.unacked
            publish_rate = counter_rate(
                kept.get("published"), kept.get("read_at"), stats.published, t
            )
            ack_rate = counter_rate(kept.get("acked"), kept.get("read_at"), stats.acked, t)
            kept.update(published=stats.published, acked=stats.acked, read_at=t)
    partial = stats is not None and (stats.partial or reading.partial)
    if partial and reading.error:
        errors.append(reading.error)
    scaler = Scaler(role)
    try:
        scaler.restore(kept.get("scaler") or {})
    except Exception:
        # Whatever a stored state makes restore raise, it is this role's alone:
        # raised on, it failed the tenant's whole tick, and every tick after.
        log.warning(
            "tenant %s, role %s: saved scaling state unreadable; started afresh",
            job.resource_id,
            role.name,
            exc_info=True,
        )
        errors.append("the saved scaling state was unreadable; started afresh")
        counters.errors["scaler_state_reset"] += 1
        scaler = Scaler(role)
    obs = Observation(
        t=t,
        ready=ready,
        # A partial reading has no unacked count: sized on ready alone, held below.
        unacked=unacked if not partial else (0 if ready is not None else None),
        consumers=consumers,
        publish_rate=publish_rate,
        ack_rate=ack_rate,
        current=x.current,
        now=at,
    )
    decision = scaler.decide(obs)
    kept["scaler"] = scaler.state()
    desired, reason = decision.desired, decision.reason
    if (stats is None or partial) and x.current is not None and desired < x.current:
        desired = x.current
        reason = f"holding {desired}: queue data missing or partial, never scaling down on it"
    ceiling = fm.ceiling(role, memory.get("limits", {}).get(x.app, {}))
    if ceiling is not None and desired > ceiling:
        reason += f" (clamped to Heroku's limit of {ceiling})"
        desired = ceiling
    x.desired, x.reason = desired, reason
    status.update(
        ready=ready,
        unacked=unacked,
        consumers=consumers,
        publishRate=publish_rate,
        ackRate=ack_rate,
        current=x.current,
        desired=desired,
        reason=reason,
        observedAt=at.isoformat(),
        partial=partial,
        error="; ".join(errors) or None,
    )
    if ceiling is not None and role.workers == ():
        status["limit"] = ceiling


async def _apply(
    ctx: Context,
    job: TenantJob,
    pacer: Pacer,
    memory: dict[str, Any],
    roles: list[_Role],
    quantities: dict[str, dict[str, int] | str],
    at: dt.datetime,
    result: TenantResult,
    progress: Progress,
) -> None:
    """One batch PATCH per app with only the changed types (none in dry-run)."""
    by_app: dict[str, list[tuple[_Role, dict[str, int]]]] = {}
    for x in roles:
        have = quantities.get(x.app)
        if x.desired is None or x.current is None or not isinstance(have, dict):
            continue
        change = fm.changes(x.role, x.desired, have)
        if change:
            by_app.setdefault(x.app, []).append((x, change))
    for app, items in by_app.items():
        have = quantities[app]
        assert isinstance(have, dict)
        events = [
            EventRow(at, x.role.name, app, t, have.get(t), q, x.reason, "pending")
            for x, change in items
            for t, q in change.items()
        ]
        if job.dry_run or ctx.dry_run:
            result.new_events += [_with(e, "dry-run") for e in events]
            continue
        if (why := pacer.blocked()) is not None:
            for x, _ in items:
                x.status["error"] = why.message
            continue
        await _patch(ctx, job, pacer, memory, app, items, events, result, progress)


async def _patch(
    ctx: Context,
    job: TenantJob,
    pacer: Pacer,
    memory: dict[str, Any],
    app: str,
    items: list[tuple[_Role, dict[str, int]]],
    events: list[EventRow],
    result: TenantResult,
    progress: Progress,
) -> None:
    cache = memory.setdefault("formation", {})
    if app in cache:
        cache[app]["stale"] = True  # whatever happens next, read it again
    ids = await ctx.fence(job.claim, events, memory)
    if ids is None:
        result.counters.errors["lease_lost"] += 1
        raise LeaseLost(job.resource_id)
    progress.pending += ids
    updates = {t: q for _, change in items for t, q in change.items()}
    outcome, request_id = "applied", None
    try:
        answer = await pacer.call(lambda: ctx.heroku.scale(pacer.token, app, updates))
        # Heroku answers with the changed types only; the next tick reads them all again.
        types = {
            **cache.get(app, {}).get("types", {}),
            **{f.type: f.quantity for f in answer.value},
        }
        cache[app] = {"read_at": epoch(events[0].at), "types": types, "stale": True}
        request_id = answer.request_id
    except Paused as why:
        outcome = f"error: {why.message}"
    except HerokuRejected as exc:
        request_id = exc.request_id
        outcome = f"error: {exc.id}: {exc.message}"
        if exc.id == "cannot_run_above_limit" and exc.limit is not None:
            limits = memory.setdefault("limits", {}).setdefault(app, {})
            named = _LIMIT_TYPE.search(exc.message)
            for t, q in updates.items():
                if q > exc.limit and (named is None or named.group(1) == t):
                    limits[t] = exc.limit
            outcome = f"error: cannot_run_above_limit (Heroku's limit is {exc.limit})"
        result.counters.errors["heroku_rejected"] += 1
    except HerokuRateLimited as exc:
        request_id, outcome = exc.request_id, "error: Heroku rate limit (429); waiting for refill"
        result.counters.errors["heroku_rate_limited"] += 1
    except HerokuAuthError as exc:
        request_id, outcome = exc.request_id, f"error: Heroku refused the token ({exc.status})"
        result.counters.errors["heroku_auth"] += 1
    except HerokuError as exc:
        request_id, outcome = exc.request_id, f"error: {exc.id}: {exc.message}"
        result.counters.errors[f"heroku_{exc.status}"] += 1
    for event_id in ids:
        result.finished_events[event_id] = (outcome, request_id)
        progress.pending.remove(event_id)
    if outcome != "applied":
        for x, _ in items:
            x.status["error"] = outcome.removeprefix("error: ")


def _with(event: EventRow, outcome: str) -> EventRow:
    return EventRow(
        event.at,
        event.role,
        event.app,
        event.process_type,
        event.from_quantity,
        event.to_quantity,
        event.reason,
        outcome,
        event.request_id,
    )


def _sample(x: _Role, job: TenantJob, reading: Reading, at: dt.datetime) -> dict[str, Any]:
    s = x.status
    return {
        "series_id": job.series[x.role.name],
        "at": at,
        "ready": s["ready"],
        "unacked": s["unacked"],
        "consumers": s["consumers"],
        "publish_rate": s["publishRate"],
        "ack_rate": s["ackRate"],
        "current": x.current,
        "desired": x.desired,
        "partial": bool(s["partial"]) or s["ready"] is None,
    }


def _copied(memory: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of the memory, but for each role's scaler state, by far its
    largest part, which a tick only ever replaces whole (`_decide`), so it is shared."""
    copy = {k: _json_copy(v) for k, v in memory.items() if k != "roles"}
    if "roles" in memory:
        copy["roles"] = {
            name: {k: v if k == "scaler" else _json_copy(v) for k, v in kept.items()}
            for name, kept in memory["roles"].items()
        }
    return copy


def _json_copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data (read from jsonb): copy.deepcopy's memo
    and dispatch cost ~3 % of the worker's CPU."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


class LeaseLost(Exception):
    """Another worker holds the tenant now; this tick's results are dropped."""
