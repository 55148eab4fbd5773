"""Request dependencies. The request owns the transaction; services only flush.

Two shapes of the same contract (commit before the answer is sent, roll back
on any error):
- `DbDep` hands a sync route its Session.
- `TxDep` lets an async route run one service call in one transaction, in a
  single trip to the thread pool; the partner API uses it because thread-pool
  hand-offs were the largest share of a provision's CPU (bench/provision.py).

The plain getters are `async def` for the same reason: a sync dependency costs
a thread-pool trip on every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from guvscale.db.crypto import Vault
from guvscale.db.scoping import scope_to
from guvscale.settings import Settings

T = TypeVar("T")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


@contextmanager
def _commit_or_roll_back(session: Session) -> Iterator[Session]:
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_db(request: Request) -> Iterator[Session]:
    """A Session for a sync route; used with scope="function" so the commit
    happens before the response is sent."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with _commit_or_roll_back(sessions()) as session:
        yield session


class Transaction:
    """Runs `work(session)` in one transaction, in one trip to the thread pool."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def __call__(self, work: Callable[[Session], T]) -> T:
        return await run_in_threadpool(self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        with _commit_or_roll_back(self._sessions()) as session:
            return work(session)


class TenantTransaction:
    """A Transaction whose sessions are scoped to one tenant (`scope_to`).

    What a route hands a service once it knows who is calling: the config API
    after the Bearer check, a dashboard page after the session check.
    """

    def __init__(self, tx: Transaction, resource_id: str) -> None:
        self._tx = tx
        self.resource_id = resource_id

    async def __call__(self, work: Callable[[Session], T]) -> T:
        return await self._tx(lambda session: work(scope_to(session, self.resource_id)))


async def get_transaction(request: Request) -> Transaction:
    return Transaction(request.app.state.sessions)


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]
DbDep = Annotated[Session, Depends(get_db, scope="function")]
TxDep = Annotated[Transaction, Depends(get_transaction)]
