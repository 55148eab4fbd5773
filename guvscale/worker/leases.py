"""Sharing tenants between worker processes through PostgreSQL row leases.

A claim is one short transaction: the due rows whose lease is free or ran
out are picked `FOR UPDATE SKIP LOCKED` (two workers never pick the same
row, and neither waits), stamped with the claimer and a new epoch, and
committed before any network call. The claimer writes back only while the
row still carries its name and epoch (`save` and `fence` check both), so a
slow worker whose lease ran out can neither overwrite its successor nor send
a change after it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Connection, text

from guvscale.db import jsonb
from guvscale.worker import memory
from guvscale.worker.types import Claim, EventRow

log = logging.getLogger(__name__)

# Rows for provisioned tenants that have rules and a Heroku token; rows of
# tenants that no longer qualify are removed so they are not claimed.
_ENROLL = text(
    """
    INSERT INTO tenant_worker_state (resource_id, due_at, lease_epoch, memory, status)
    SELECT r.id, :now, 0, '{}'::jsonb, '{}'::jsonb FROM resources r
    WHERE r.state = 'provisioned'
      AND EXISTS (SELECT 1 FROM rules_versions v WHERE v.resource_id = r.id)
      AND EXISTS (SELECT 1 FROM credentials c
                  WHERE c.resource_id = r.id AND c.heroku_token_enc IS NOT NULL)
    ON CONFLICT (resource_id) DO NOTHING
    """
)
_RETIRE = text(
    """
    DELETE FROM tenant_worker_state s USING resources r
    WHERE r.id = s.resource_id AND r.state <> 'provisioned'
    """
)

_CLAIM = text(
    """
    UPDATE tenant_worker_state s
    SET lease_owner = :owner, lease_until = :until, lease_epoch = s.lease_epoch + 1
    FROM (
        SELECT id, lease_owner AS previous_owner FROM tenant_worker_state
        WHERE due_at <= :now AND (lease_until IS NULL OR lease_until < :now)
        ORDER BY due_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ) due
    WHERE s.id = due.id
    RETURNING s.resource_id, s.lease_epoch, s.due_at, s.memory, due.previous_owner
    """
)

_FENCE = text(
    """
    UPDATE tenant_worker_state SET lease_until = :until
    WHERE resource_id = :rid AND lease_owner = :owner AND lease_epoch = :epoch
    RETURNING id
    """
)

# Events a worker left `pending` (it died between writing them and the PATCH's
# answer): whoever takes the tenant over closes them, so none stays open.
_CLOSE_ORPHANS = text(
    """
    UPDATE scaling_events SET outcome = 'unknown: the worker stopped before Heroku answered'
    WHERE resource_id = ANY(:rids) AND outcome = 'pending'
    """
)


def enroll(conn: Connection, now: dt.datetime) -> None:
    conn.execute(_ENROLL, {"now": now})
    conn.execute(_RETIRE)


def claim(
    conn: Connection, owner: str, now: dt.datetime, *, lease_for: dt.timedelta, limit: int
) -> list[Claim]:
    rows = conn.execute(
        _CLAIM, {"owner": owner, "until": now + lease_for, "now": now, "limit": limit}
    ).all()
    claims = [
        _claim(r.resource_id, r.lease_epoch, r.due_at, r.memory, r.previous_owner) for r in rows
    ]
    orphans = [c.resource_id for c in claims if c.took_over]
    if orphans:
        conn.execute(_CLOSE_ORPHANS, {"rids": orphans})
    return claims


def _claim(
    resource_id: str, epoch: int, due_at: dt.datetime, stored: Any, previous_owner: str | None
) -> Claim:
    # Checked here, before anything reads it: a misshapen memory raised in
    # places where one tenant's failure ended the round for every tenant.
    kept, reset = memory.checked(stored)
    if reset:
        log.warning(
            "tenant %s: stored worker memory misshapen in %s; started afresh",
            resource_id,
            ", ".join(reset),
        )
    return Claim(
        resource_id=resource_id,
        epoch=epoch,
        due_at=due_at,
        memory=kept,
        took_over=previous_owner is not None,
        reset=tuple(reset),
    )


def fence(
    conn: Connection,
    owner: str,
    claim: Claim,
    now: dt.datetime,
    *,
    lease_for: dt.timedelta,
    events: list[EventRow],
    memory: dict[str, Any],
) -> list[int] | None:
    """Just before a PATCH: renew the lease and write its events `pending`.

    None when the lease is no longer ours (do not send). The memory written
    here marks the formation stale, so whoever runs the tenant next reads
    what Heroku really has, whether or not this worker lives to hear back.
    """
    held = conn.execute(
        _FENCE,
        {"until": now + lease_for, "rid": claim.resource_id, "owner": owner, "epoch": claim.epoch},
    ).first()
    if held is None:
        return None
    conn.execute(
        text("UPDATE tenant_worker_state SET memory = CAST(:memory AS jsonb) WHERE id = :id"),
        {"memory": jsonb.dumps(memory), "id": held.id},
    )
    return insert_events(conn, claim.resource_id, events)


def insert_events(conn: Connection, resource_id: str, events: list[EventRow]) -> list[int]:
    if not events:
        return []
    ids: list[int] = []
    for e in events:
        ids.append(
            conn.execute(
                text(
                    "INSERT INTO scaling_events (resource_id, at, role, app, process_type, "
                    "from_quantity, to_quantity, reason, request_id, outcome) VALUES "
                    "(:rid, :at, :role, :app, :ptype, :from_q, :to_q, :reason, :req, :outcome) "
                    "RETURNING id"
                ),
                {
                    "rid": resource_id,
                    "at": e.at,
                    "role": e.role,
                    "app": e.app,
                    "ptype": e.process_type,
                    "from_q": e.from_quantity,
                    "to_q": e.to_quantity,
                    "reason": e.reason,
                    "req": e.request_id,
                    "outcome": e.outcome,
                },
            ).scalar_one()
        )
    return ids
