"""`guvscale rekey`: every stored secret re-encrypted under the newest key.

Rotating ENCRYPTION_KEYS: put a new key first and keep the old ones after it
(everything stays readable; new secrets use the new key), run `guvscale
rekey`, and only once it reports nothing left under an old key remove that
key. Without this, rows nobody saves again (partner tokens, an owner's token
set once) stay under the old key for good, and a leaked key can never go.

One short transaction a row, each row locked while it is rewritten: the web
and the worker go on meanwhile (every key still decrypts). Prints counts and
the rows no key opens, never a secret.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.base import Base
from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.models import Credentials, ProvisionJob
from guvscale.db.scoping import unscoped

log = logging.getLogger(__name__)

# Every table with encrypted columns, and those columns (`*_enc`).
SEALED: tuple[tuple[type[Base], tuple[str, ...]], ...] = (
    (
        Credentials,
        (
            "partner_access_token_enc",
            "partner_refresh_token_enc",
            "heroku_token_enc",
            "rabbitmq_url_enc",
            "management_url_enc",
        ),
    ),
    (ProvisionJob, ("grant_code_enc",)),
)


@dataclass
class Rekeyed:
    rows: int = 0  # rows with at least one secret
    secrets: int = 0  # values re-encrypted
    # "table row id (add-on resource id) column" for each value no key opens
    unreadable: list[str] = field(default_factory=list)


def rekey(sessions: sessionmaker[Session], vault: Vault) -> Rekeyed:
    """Re-encrypt every secret under `vault`'s first key; a value no key
    opens is left as it is and named in `unreadable`."""
    done = Rekeyed()
    for model, columns in SEALED:
        table = model.__tablename__
        with sessions() as session:
            ids = list(unscoped(session).scalars(select(model.id)))  # type: ignore[attr-defined]
        for row_id in ids:
            with sessions.begin() as session:
                row = unscoped(session).get(model, row_id, with_for_update=True)
                if row is None:
                    continue  # deleted meanwhile (a deprovision)
                found = 0
                for column in columns:
                    value = getattr(row, column)
                    if value is None:
                        continue
                    found += 1
                    try:
                        setattr(row, column, vault.rotate(value))
                    except DecryptionError:
                        owner = row.resource_id  # type: ignore[attr-defined]
                        done.unreadable.append(f"{table} {row_id} ({owner}) {column}")
                    else:
                        done.secrets += 1
                done.rows += found > 0
    return done


def rekey_command(args: argparse.Namespace) -> int:
    """Exit 1 while any secret is left that no key opens: the keys it was
    sealed under are not all in ENCRYPTION_KEYS, so none may be removed yet."""
    from guvscale import wiring
    from guvscale.db.engine import make_engine, make_sessionmaker
    from guvscale.settings import Settings
    from guvscale.web.logs import configure_logging

    configure_logging()
    settings = Settings()
    settings.check()
    engine = make_engine(settings)
    try:
        done = rekey(make_sessionmaker(engine), wiring.vault(settings))
    finally:
        engine.dispose()
    print(f"re-encrypted {done.secrets} secrets in {done.rows} rows under the first key")
    for where in done.unreadable:
        print(f"no key in ENCRYPTION_KEYS opens {where}: keep the key it was sealed under")
    return 1 if done.unreadable else 0
