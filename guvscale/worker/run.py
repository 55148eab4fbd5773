"""`guvscale worker`: run_once() plus a loop.

    guvscale worker            # loop until SIGTERM/SIGINT (the Procfile's worker:)
    guvscale worker --once     # one round: claim what is due, tick it, save, exit
    guvscale worker --dry-run  # decide and record, never PATCH Heroku

A round starts with the upkeep when due (partitions, rollups, old events),
then is a pipeline: short transactions enroll tenants, claim due tenants
(leases) as slots free up (at most WORKER_CONCURRENCY ticking at once) and
load their inputs; the ticks run with no transaction open, each under its
own time budget; finished ones are saved in batches (fenced by lease:
samples, events, state); the round ends with the heartbeat. Any number of
processes may run; leases keep each tenant to one per tick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.clock import utcnow
from guvscale.db.crypto import Vault
from guvscale.db.models import Credentials
from guvscale.db.scoping import unscoped
from guvscale.records import events, partitions, rollups
from guvscale.services.credentials import TenantCredentials, load_credentials, save_credentials
from guvscale.worker import leases, store
from guvscale.worker.tenant import Context, LeaseLost, Progress, tick
from guvscale.worker.types import Claim, Counters, EventRow, TenantJob, TenantResult

log = logging.getLogger(__name__)
T = TypeVar("T")

ENROLL_EVERY = 5.0  # seconds between looks for newly qualifying tenants
MAINTAIN_EVERY = 60.0  # seconds between partition/rollup upkeep
LEASE_MARGIN = 4.0  # seconds a lease outlasts the tenant budget
SAVE_WAIT = 0.5  # seconds a finished tick waits to be saved with others


@dataclass(frozen=True)
class WorkerOptions:
    concurrency: int = 50
    tenant_timeout: float = 8.0
    loop_seconds: float = 1.0
    batch: int = 500
    dry_run: bool = False
    poll_seconds: int | None = None  # overrides the plans' poll intervals (tests, sandbox)

    @property
    def lease_for(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.tenant_timeout + LEASE_MARGIN)


@dataclass
class Report:
    claimed: int = 0
    saved: int = 0
    seconds: float = 0.0
    counters: Counters = field(default_factory=Counters)


class Worker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: Vault,
        ctx: Context,
        options: WorkerOptions,
        worker_id: str,
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.ctx = ctx
        self.ctx.fence = self._fence
        self.ctx.store_broker = self._store_broker
        self.options = options
        self.id = worker_id
        self.started_at = utcnow()
        self.rules_cache: store.RulesCache = {}
        self._enrolled_at = -1e9
        self._maintained_at = -1e9
        self._gate = asyncio.Semaphore(options.concurrency)
        # The round's clock minus the wall clock: zero in service; tests and the
        # bench run rounds at simulated times, and leases must follow that clock.
        self._offset = dt.timedelta()

    # -- phase 1 --------------------------------------------------------------

    def _now(self) -> dt.datetime:
        """The round's clock, read afresh."""
        return utcnow() + self._offset

    def _prepare(self, limit: int | None = None) -> list[TenantJob]:
        mono = time.monotonic()
        with self.sessions.begin() as session:
            unscoped(session)
            if mono - self._enrolled_at >= ENROLL_EVERY:
                leases.enroll(session.connection(), self._now())
                self._enrolled_at = mono
            # Read at the claim, not when the round or this call began: whatever
            # came before, the lease runs its full length from now.
            claims = leases.claim(
                session.connection(),
                self.id,
                self._now(),
                lease_for=self.options.lease_for,
                limit=self.options.concurrency if limit is None else limit,
            )
            if len(self.rules_cache) > 50_000:
                self.rules_cache.clear()
            return store.load(
                session,
                claims,
                self.vault,
                self.rules_cache,
                poll_seconds=self.options.poll_seconds,
            )

    def _upkeep(self) -> None:
        """Partitions, rollups and event pruning when due, each in its own transaction.

        The upkeep is shared by every tenant, so a step that fails (a rollup
        meeting data it cannot hold) is logged and left to the next upkeep: it
        undoes none of the other steps (partitions made ahead are what every
        tenant's samples need) and holds up no tick.
        """
        mono = time.monotonic()
        if mono - self._maintained_at < MAINTAIN_EVERY:
            return
        # Marked before it runs: a failing upkeep waits its turn like a passing one.
        self._maintained_at = mono
        steps: tuple[tuple[str, Callable[[Connection, dt.datetime], object]], ...] = (
            ("partitions", partitions.maintain),
            ("rollups", rollups.run),
            ("events", events.prune),
        )
        for name, step in steps:
            try:
                with self.sessions.begin() as session:
                    # Samples carry the real time of each read, so upkeep follows the wall clock.
                    step(session.connection(), utcnow())
            except Exception:
                log.exception("upkeep: %s failed; tried again in %g s", name, MAINTAIN_EVERY)

    # -- phase 2 --------------------------------------------------------------

    async def _run(self, job: TenantJob, now: dt.datetime) -> TenantResult | None:
        async with self._gate:
            progress = Progress()
            budget = self.options.tenant_timeout
            try:
                result = await asyncio.wait_for(
                    tick(job, self.ctx, now, time.monotonic() + budget, progress), budget
                )
            except LeaseLost:
                return None
            except TimeoutError:
                result = _cut_short(job, now, progress, f"the tick took over {budget:g} s")
            except Exception as exc:
                log.exception("tenant %s: tick failed", job.resource_id)
                why = f"internal error ({type(exc).__name__})"
                result = _cut_short(job, now, progress, why, internal=True)
            if job.claim.reset:
                _note_reset(job, result)
            return result

    async def _fence(
        self, claim: Claim, events: list[EventRow], memory: dict[str, Any]
    ) -> list[int] | None:
        def work() -> list[int] | None:
            with self.sessions.begin() as session:
                return leases.fence(
                    session.connection(),
                    self.id,
                    claim,
                    self._now(),
                    lease_for=self.options.lease_for,
                    events=events,
                    memory=memory,
                )

        return await asyncio.to_thread(work)

    async def _store_broker(
        self, resource_id: str, used: TenantCredentials, new: TenantCredentials
    ) -> bool:
        """Save a re-read broker URL unless the credentials changed since they were loaded
        (a user saving new ones must not be overwritten by what the tick started with)."""

        def work() -> bool:
            with self.sessions.begin() as session:
                unscoped(session)
                session.scalars(
                    select(Credentials)
                    .where(Credentials.resource_id == resource_id)
                    .with_for_update()
                ).first()
                if load_credentials(session, self.vault, resource_id) != used:
                    return False
                save_credentials(session, self.vault, resource_id, new)
                return True

        return await asyncio.to_thread(work)

    # -- phase 3 --------------------------------------------------------------

    def _save(self, results: list[TenantResult], report: Report) -> None:
        with self.sessions.begin() as session:
            report.saved += len(store.save(session.connection(), self.id, results, utcnow()))

    def _beat(self, report: Report) -> None:
        with self.sessions.begin() as session:
            store.heartbeat(
                session.connection(),
                self.id,
                self.started_at,
                utcnow(),
                report.seconds,
                report.counters,
            )


async def run_once(worker: Worker, now: dt.datetime | None = None) -> Report:
    """One round: tick every due tenant (up to WORKER_BATCH), then beat the heartbeat.

    A pipeline, not waves: a tenant is claimed only when a slot is free, so its
    lease starts when its tick does and one slow tenant holds up no other;
    results are saved in batches as they come (at most SAVE_WAIT later).
    `now` is the round's start (tests and the bench pass a simulated one).
    """
    began = time.monotonic()
    # Before the round's clock starts and outside any claim: however long the
    # upkeep takes, the ticks' time and the leases begin after it.
    await asyncio.to_thread(worker._upkeep)
    start = now or utcnow()
    worker._offset = start - utcnow()
    report = Report()
    running: set[asyncio.Task[TenantResult | None]] = set()
    waiting: list[TenantResult] = []
    saving: list[asyncio.Task[None]] = []
    try:
        await _pipeline(worker, start, report, running, waiting, saving)
    finally:
        # A failed save (database gone) must not leave ticks running unowned.
        for task in running:
            task.cancel()
        await asyncio.gather(*running, *saving, return_exceptions=True)
    report.seconds = time.monotonic() - began
    await asyncio.to_thread(worker._beat, report)
    return report


async def _pipeline(
    worker: Worker,
    start: dt.datetime,
    report: Report,
    running: set[asyncio.Task[TenantResult | None]],
    waiting: list[TenantResult],
    saving: list[asyncio.Task[None]],
) -> None:
    opts = worker.options
    oldest: float | None = None
    exhausted = False
    while True:
        room = min(opts.concurrency - len(running), opts.batch - report.claimed)
        # Claim in handfuls: one transaction per freed slot would cost more than it saves.
        if not exhausted and room > 0 and (room >= opts.concurrency // 4 or not running):
            jobs = await asyncio.to_thread(worker._prepare, room)
            exhausted = len(jobs) < room or report.claimed + len(jobs) >= opts.batch
            report.claimed += len(jobs)
            running |= {asyncio.create_task(worker._run(job, start)) for job in jobs}
        if saving and saving[0].done():
            saving.pop().result()  # a failed save ends the round (run_forever logs it)
        if not running and not waiting and not saving:
            break
        if running or saving:
            done, _ = await asyncio.wait(
                running | set(saving), timeout=SAVE_WAIT, return_when=asyncio.FIRST_COMPLETED
            )
            done -= set(saving)
            running -= done
            for task in done:
                result = task.result()
                if result is not None:
                    waiting.append(result)
                    report.counters.add(result.counters)
            if waiting and oldest is None:
                oldest = time.monotonic()
        due = oldest is not None and time.monotonic() - oldest >= SAVE_WAIT
        ready = not running or len(waiting) >= opts.concurrency // 2 or due
        if waiting and ready and not saving:
            # One save at a time, beside the ticks and claims: the CPU keeps
            # deciding while PostgreSQL writes the batch.
            batch = list(waiting)
            saving.append(asyncio.create_task(asyncio.to_thread(worker._save, batch, report)))
            waiting.clear()
            oldest = None


async def run_forever(worker: Worker, stop: asyncio.Event) -> None:
    """Rounds until `stop` is set; a round in progress is finished first."""
    while not stop.is_set():
        report = None
        try:
            report = await run_once(worker)
        except Exception:
            # The database gone for a moment must not end the worker.
            log.exception("worker round failed")
        if report is not None and report.claimed >= worker.options.batch:
            continue  # more is due right now
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), worker.options.loop_seconds)


def _cut_short(
    job: TenantJob, now: dt.datetime, progress: Progress, why: str, *, internal: bool = False
) -> TenantResult:
    """What a tick that did not finish leaves to be saved. It must not raise:
    an exception here is outside every tenant's handling and ends the round for all."""
    from guvscale.worker.tenant import next_due

    try:
        memory = _left_over(job.claim.memory, internal=internal)
    except Exception:
        log.exception("tenant %s: its memory could not be kept; started afresh", job.resource_id)
        memory = {}
    if internal and "roles" in job.claim.memory:
        why += "; its scaling state started afresh"
    result = TenantResult(
        job.resource_id, job.claim.epoch, next_due(job, now), memory, {"error": why, "roles": []}
    )
    for event_id in progress.pending:
        result.finished_events[event_id] = (f"unknown: {why} before Heroku answered", None)
    result.counters.errors["internal" if internal else "tick_timeout"] += 1
    return result


def _left_over(claimed: dict[str, Any], *, internal: bool) -> dict[str, Any]:
    memory = dict(claimed)
    if internal:
        # The scaler states are the one part no shape check vouches for (only
        # their scaler reads them), and so the likeliest reason a tick fails
        # for no foreseen reason: kept, it would fail every tick after.
        memory.pop("roles", None)
    # A PATCH may have gone out: the next tick reads what Heroku has.
    formation = memory.pop("formation", None)
    if isinstance(formation, dict):
        memory["formation"] = {
            app: {**cached, "stale": True}
            for app, cached in formation.items()
            if isinstance(cached, dict)
        }
    return memory


def _note_reset(job: TenantJob, result: TenantResult) -> None:
    """Say in the tenant's status that part of its stored memory started afresh."""
    parts = ", ".join(job.claim.reset)
    note = f"the saved worker state was unreadable ({parts}) and started afresh"
    result.status["error"] = "; ".join(e for e in (result.status.get("error"), note) if e)
    result.counters.errors["state_reset"] += 1


# -- command line ---------------------------------------------------------------


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="run one round and exit")
    parser.add_argument(
        "--dry-run", action="store_true", help="decide and record, never change a formation"
    )


def worker(args: argparse.Namespace) -> int:
    from guvscale import wiring
    from guvscale.settings import Settings
    from guvscale.web.logs import configure_logging

    configure_logging()
    settings = Settings()
    settings.check()

    async def main() -> None:
        async with wiring.worker(settings, dry_run=args.dry_run) as w:
            if args.once:
                report = await run_once(w)
                log.info("round: %d claimed, %d saved", report.claimed, report.saved)
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            log.info("worker %s started", w.id)
            await run_forever(w, stop)
            log.info("worker %s stopped", w.id)

    run_loop(main())
    return 0


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run the worker's top coroutine on uvloop where it is installed (a
    dependency except on Windows): the same decisions for less CPU."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(main)
    return uvloop.run(main)
