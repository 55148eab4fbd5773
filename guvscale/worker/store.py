"""The worker's database reads and writes, batched per tick.

`load` turns claims into TenantJobs (rules parsed once per version and kept
in memory, secrets decrypted); `save` writes every finished tenant back in
one transaction: state and status (fenced by lease), samples, events and
the heartbeat. A row the database refuses (a name too long, a count out of
range, a NUL character in jsonb) is its tenant's alone: each batch is written
in a savepoint and, when refused, again tenant by tenant (`_apart`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from guvscale import rules
from guvscale.db import jsonb
from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.models import Resource, RulesVersion
from guvscale.db.worker_models import RoleSeries
from guvscale.plans import plan_of
from guvscale.rules.types import Role
from guvscale.services.credentials import TenantCredentials, load_many_credentials
from guvscale.worker.leases import insert_events
from guvscale.worker.types import Claim, Counters, TenantJob, TenantResult

log = logging.getLogger(__name__)

RulesCache = dict[int, list[Role] | str]  # rules_versions.id -> roles, or why they do not load


def load(
    session: Session,
    claims: list[Claim],
    vault: Vault,
    cache: RulesCache,
    *,
    poll_seconds: int | None = None,
) -> list[TenantJob]:
    """A job per claim; a tenant whose rules or secrets cannot be read gets `error`.
    `poll_seconds` replaces every plan's poll interval (tests and the sandbox)."""
    if not claims:
        return []
    ids = [c.resource_id for c in claims]
    resources = {r.id: r for r in session.scalars(select(Resource).where(Resource.id.in_(ids)))}
    # One query; a row no key opens is that tenant's error only.
    creds = load_many_credentials(session, vault, ids)
    newest: dict[str, int] = {
        rid: vid
        for rid, vid in session.execute(
            select(RulesVersion.resource_id, RulesVersion.id)
            .where(RulesVersion.resource_id.in_(ids))
            .order_by(RulesVersion.resource_id, RulesVersion.version.desc())
            .ext(distinct_on(RulesVersion.resource_id))
        )
    }
    _parse_missing(session, newest.values(), cache)
    jobs = [
        _job(
            c,
            resources.get(c.resource_id),
            creds.get(c.resource_id),
            newest,
            cache,
            poll_seconds,
        )
        for c in claims
    ]
    _number_series(session, jobs)
    return jobs


def _parse_missing(session: Session, version_ids: Iterable[int], cache: RulesCache) -> None:
    wanted = [v for v in version_ids if v not in cache]
    if not wanted:
        return
    for vid, yaml_text in session.execute(
        select(RulesVersion.id, RulesVersion.yaml_text).where(RulesVersion.id.in_(wanted))
    ):
        try:
            cache[vid] = list(rules.load(yaml_text).values())
        except rules.RulesError as exc:
            cache[vid] = f"the saved rules do not load: {exc}"


def _job(
    claim: Claim,
    resource: Resource | None,
    cred: TenantCredentials | DecryptionError | None,
    newest: dict[str, int],
    cache: RulesCache,
    poll_seconds: int | None = None,
) -> TenantJob:
    plan = plan_of(resource.plan if resource else None)
    if poll_seconds:
        plan = dataclasses.replace(plan, poll_interval_s=poll_seconds)
    job = TenantJob(claim=claim, plan=plan)
    if resource is None:
        job.error = "the add-on is gone"
        return job
    job.dry_run = resource.dry_run
    if isinstance(cred, DecryptionError):
        job.error = str(cred)
        return job
    job.credentials = cred
    # The app id survives renames; the name is for add-ons saved before credentials.
    job.app = (cred.app_id if cred else None) or resource.app_name
    roles = cache.get(newest.get(resource.id, -1), "no rules saved")
    if isinstance(roles, str):
        job.error = roles
        return job
    job.roles, job.beyond_plan = plan.scales(roles)
    return job


def _number_series(session: Session, jobs: list[TenantJob]) -> None:
    """role_series ids for every role, remembered in the tenant's memory after the first tick
    (the memory is saved with the tick), so a steady tenant costs no query here."""
    missing: dict[str, list[dict[str, str]]] = {}
    for job in jobs:
        known: dict[str, int] = job.claim.memory.get("series", {})
        job.series = {r.name: known[r.name] for r in job.roles if r.name in known}
        rows = [
            {"resource_id": job.resource_id, "role": r.name}
            for r in job.roles
            if r.name not in job.series
        ]
        if rows:
            missing[job.resource_id] = rows
    by_tenant = {job.resource_id: job for job in jobs}

    def number(rids: list[str]) -> None:
        rows = [row for rid in rids for row in missing[rid]]
        session.execute(insert(RoleSeries).values(rows).on_conflict_do_nothing())

    # This runs in the transaction that enrolled and claimed: one tenant's role
    # refused here (a name over 100 characters) rolled back everyone's.
    for rid, why in _apart(session.begin_nested, list(missing), number, "role series").items():
        by_tenant[rid].error = f"its roles cannot be recorded ({why})"
        del missing[rid]
    if missing:
        pairs = {(row["resource_id"], row["role"]) for rows in missing.values() for row in rows}
        found = session.execute(
            select(RoleSeries.resource_id, RoleSeries.role, RoleSeries.id).where(
                RoleSeries.resource_id.in_(list(missing))
            )
        )
        for rid, role, sid in found:
            if (rid, role) in pairs:
                by_tenant[rid].series[role] = sid
    for job in jobs:
        # Only the roles in force: a role dropped from the rules is forgotten.
        job.claim.memory["series"] = dict(job.series)


# A row the database refuses is its tenant's fault; any other error (the
# connection gone) is everyone's, and ends the round as before.
_ROW_FAULTS: tuple[type[DBAPIError], ...] = (DataError, IntegrityError)


def _apart(
    savepoint: Callable[[], AbstractContextManager[Any]],
    tenants: list[str],
    write: Callable[[list[str]], None],
    what: str,
    faults: tuple[type[DBAPIError], ...] = _ROW_FAULTS,
) -> dict[str, str]:
    """`write(tenants)` in one savepoint; when the database refuses a row of
    theirs, `write([tenant])` for each in a savepoint of its own, so the rows of
    every other tenant are still written. Why, for each tenant refused."""
    if not tenants:
        return {}
    try:
        with savepoint():
            write(tenants)
        return {}
    except faults as exc:
        if len(tenants) == 1:
            return {tenants[0]: _refused(tenants[0], what, exc)}
    refused: dict[str, str] = {}
    for rid in tenants:
        try:
            with savepoint():
                write([rid])
        except faults as exc:
            refused[rid] = _refused(rid, what, exc)
    return refused


def _refused(rid: str, what: str, exc: DBAPIError) -> str:
    """What PostgreSQL said, for the tenant's status: its primary message only
    (which may quote the tenant's own offending value), never the statement,
    the other values or the detail."""
    diag = getattr(exc.orig, "diag", None)
    why = str(getattr(diag, "message_primary", None) or type(exc.orig).__name__)
    # The engine hides bound parameters; PostgreSQL's context may quote a little
    # of the row, which is memory, status or samples: never a secret.
    log.warning("tenant %s: %s refused: %s", rid, what, why, exc_info=exc)
    return why


_SAVE = text(
    """
    UPDATE tenant_worker_state s
    SET memory = COALESCE(v.memory, s.memory), status = v.status, due_at = v.next_due,
        last_tick_at = v.tick_at,
        lease_owner = NULL, lease_until = NULL
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
        AS v(resource_id text, epoch int, memory jsonb, status jsonb,
             next_due timestamptz, tick_at timestamptz)
    WHERE s.resource_id = v.resource_id AND s.lease_owner = :owner AND s.lease_epoch = v.epoch
    RETURNING s.resource_id
    """
)


_UNSAVED = "this tick's results could not be saved ({})"
_UNSTORED = "this tick's samples could not be stored ({})"
# One statement of fixed text, as _SAVE: executemany would send the rows in a
# pipeline, and psycopg (3.3) takes a statement it meant to prepare in a
# pipeline that a refused row aborted for prepared, failing it ever after on
# that connection ("prepared statement _pg3_N does not exist").
_SAMPLES = text(
    """
    INSERT INTO role_samples (series_id, at, ready, unacked, consumers, publish_rate,
                              ack_rate, current, desired, partial)
    SELECT series_id, at, ready, unacked, consumers, publish_rate, ack_rate, current,
           desired, partial
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
        AS v(series_id int, at timestamptz, ready int, unacked int, consumers int,
             publish_rate real, ack_rate real, current smallint, desired smallint,
             partial boolean)
    """
)
_NOTE = text(
    """
    UPDATE tenant_worker_state
    SET status = jsonb_set(status, '{error}',
                           to_jsonb(concat_ws('; ', status->>'error', CAST(:note AS text))))
    WHERE resource_id = :rid
    """
)


def save(
    conn: Connection,
    owner: str,
    results: list[TenantResult],
    now: dt.datetime,
) -> set[str]:
    """Write back the results whose lease is still ours; returns their tenants.
    What of a tenant's results the database refuses is said in its status."""
    if not results:
        return set()
    kept, refused = _save_states(conn, owner, results, now)
    notes: dict[str, list[str]] = defaultdict(list)
    _save_samples(conn, [r for r in results if r.resource_id in kept and r.samples], notes)
    _save_events(conn, results, kept, notes)
    for rid, said in notes.items():
        if rid in kept:
            conn.execute(_NOTE, {"rid": rid, "note": "; ".join(said)})
    lost = {r.resource_id for r in results} - kept - refused
    if lost:
        log.warning("lease lost before saving %d tenant(s); their results dropped", len(lost))
    return kept


def _save_states(
    conn: Connection, owner: str, results: list[TenantResult], now: dt.datetime
) -> tuple[set[str], set[str]]:
    """State and status, releasing the lease: (tenants saved, tenants refused even
    the fallback row). A tenant whose row is refused still has its lease released
    and its status say why; its memory stays as last stored (a null memory keeps
    it), for that may be what was refused."""
    by_tenant = {r.resource_id: r for r in results}
    kept: set[str] = set()
    rows: dict[str, str] = {}
    unsaved: dict[str, str] = {}
    for r in results:
        try:
            rows[r.resource_id] = jsonb.dumps(_row(r, now))
        except TypeError:  # orjson: an integer over 64 bits, say
            log.warning("tenant %s: state not serialisable", r.resource_id, exc_info=True)
            unsaved[r.resource_id] = "a value that cannot be stored"

    def states(chosen: dict[str, str]) -> Callable[[list[str]], None]:
        def write(rids: list[str]) -> None:
            batch = "[" + ",".join(chosen[rid] for rid in rids) + "]"
            kept.update(conn.execute(_SAVE, {"rows": batch, "owner": owner}).scalars())

        return write

    unsaved |= _apart(conn.begin_nested, list(rows), states(rows), "state")
    fallback = {
        rid: jsonb.dumps(
            _row(by_tenant[rid], now)
            | {"memory": None, "status": {"error": _UNSAVED.format(why), "roles": []}}
        )
        for rid, why in unsaved.items()
    }
    refused = _apart(conn.begin_nested, list(fallback), states(fallback), "fallback state")
    return kept, set(refused)


def _save_samples(
    conn: Connection, results: list[TenantResult], notes: dict[str, list[str]]
) -> None:
    encoded: dict[str, str] = {}
    for r in results:
        try:
            encoded[r.resource_id] = jsonb.dumps(r.samples)[1:-1]
        except TypeError:
            log.warning("tenant %s: samples not serialisable", r.resource_id, exc_info=True)
            notes[r.resource_id].append(_UNSTORED.format("a value that cannot be stored"))

    def write(rids: list[str]) -> None:
        batch = "[" + ",".join(encoded[rid] for rid in rids) + "]"
        conn.execute(_SAMPLES, {"rows": batch})

    try:
        # Only a value its column refuses is one tenant's; a constraint broken by
        # all (no partition for these times: a clock far off, upkeep behind) is not.
        refused = _apart(conn.begin_nested, list(encoded), write, "samples", faults=(DataError,))
    except DBAPIError as exc:
        # Losing one round of samples must not lose the tenants' state and events.
        count = sum(len(r.samples) for r in results)
        log.warning("%d samples not stored: %s", count, type(exc.orig).__name__)
        return
    for rid, why in refused.items():
        notes[rid].append(_UNSTORED.format(why))


def _save_events(
    conn: Connection, results: list[TenantResult], kept: set[str], notes: dict[str, list[str]]
) -> None:
    by_tenant = {r.resource_id: r for r in results}

    def write(rids: list[str]) -> None:
        for rid in rids:
            r = by_tenant[rid]
            # A PATCH that was sent is recorded whatever became of the lease.
            for event_id, (outcome, request_id) in r.finished_events.items():
                conn.execute(
                    text(
                        "UPDATE scaling_events SET outcome = :outcome, "
                        "request_id = COALESCE(:req, request_id) WHERE id = :id"
                    ),
                    {"outcome": outcome, "req": request_id, "id": event_id},
                )
            if rid in kept:
                insert_events(conn, rid, r.new_events)

    eventful = [
        r.resource_id
        for r in results
        if r.finished_events or (r.resource_id in kept and r.new_events)
    ]
    for rid, why in _apart(conn.begin_nested, eventful, write, "events").items():
        notes[rid].append(f"this tick's scaling events could not be recorded ({why})")


def _row(r: TenantResult, now: dt.datetime) -> dict[str, Any]:
    return {
        "resource_id": r.resource_id,
        "epoch": r.epoch,
        "memory": r.memory,
        "status": r.status,
        "next_due": r.next_due.isoformat(),
        "tick_at": now.isoformat(),
    }


_BEAT = text(
    """
    INSERT INTO worker_heartbeats AS h (worker_id, started_at, last_tick_at, ticks,
        tick_seconds_total, last_tick_seconds, decisions, heroku_calls, takeovers,
        lowest_rate_limit_remaining, errors)
    VALUES (:worker, :started, :now, 1, :seconds, :seconds, :decisions, :calls, :takeovers,
        :lowest, CAST(:errors AS jsonb))
    ON CONFLICT (worker_id) DO UPDATE SET
        last_tick_at = :now,
        ticks = h.ticks + 1,
        tick_seconds_total = h.tick_seconds_total + :seconds,
        last_tick_seconds = :seconds,
        decisions = h.decisions + :decisions,
        heroku_calls = h.heroku_calls + :calls,
        takeovers = h.takeovers + :takeovers,
        lowest_rate_limit_remaining = COALESCE(:lowest, h.lowest_rate_limit_remaining),
        errors = (SELECT COALESCE(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
            SELECT key AS k, SUM(value::bigint) AS v FROM (
                SELECT * FROM jsonb_each_text(h.errors)
                UNION ALL SELECT * FROM jsonb_each_text(CAST(:errors AS jsonb))) e
            GROUP BY key) t)
    """
)


def heartbeat(
    conn: Connection,
    worker_id: str,
    started: dt.datetime,
    now: dt.datetime,
    seconds: float,
    counters: Counters,
) -> None:
    params: dict[str, Any] = {
        "worker": worker_id,
        "started": started,
        "now": now,
        "seconds": seconds,
        "decisions": counters.decisions,
        "calls": counters.heroku_calls,
        "takeovers": counters.takeovers,
        "lowest": counters.lowest_remaining,
        "errors": jsonb.dumps(dict(counters.errors)),
    }
    conn.execute(_BEAT, params)
