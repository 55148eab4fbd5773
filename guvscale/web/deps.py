"""Request dependencies. The request owns the transaction; services only flush."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.crypto import Vault
from guvscale.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_vault(request: Request) -> Vault:
    vault: Vault = request.app.state.vault
    return vault


def get_http(request: Request) -> httpx.Client:
    client: httpx.Client = request.app.state.http
    return client


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, else rolled back.

    Used with scope="function" so the commit happens before the response is
    sent: a client never sees success for something that was not stored.
    """
    sessions: sessionmaker[Session] = request.app.state.sessions
    session = sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SettingsDep = Annotated[Settings, Depends(get_settings)]
VaultDep = Annotated[Vault, Depends(get_vault)]
HttpDep = Annotated[httpx.Client, Depends(get_http)]
DbDep = Annotated[Session, Depends(get_db, scope="function")]
