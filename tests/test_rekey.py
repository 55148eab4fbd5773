"""`guvscale rekey`: every stored secret re-encrypted under the newest key, on PostgreSQL."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guvscale import cli
from guvscale.db.crypto import DecryptionError, Vault
from guvscale.db.models import Credentials, ProvisionJob
from guvscale.db.rekey import SEALED, rekey
from guvscale.db.scoping import unscoped
from tests.factories import add_sealed_secrets, add_tenant

OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))


def opened(sessions: sessionmaker[Session], vault: Vault) -> list[str]:
    """Every stored secret, decrypted by `vault` (DecryptionError if one cannot be)."""
    with sessions() as session:
        unscoped(session)
        rows = [*session.scalars(select(Credentials)), *session.scalars(select(ProvisionJob))]
        return [
            vault.decrypt(value)
            for row in rows
            for model, columns in SEALED
            if isinstance(row, model)
            for column in columns
            if (value := getattr(row, column)) is not None
        ]


def test_rekey_seals_every_secret_under_the_first_key(sessions: sessionmaker[Session]) -> None:
    tenants = [add_tenant(sessions, app_name=f"app-{i}") for i in range(2)]
    for t in tenants:
        add_sealed_secrets(sessions, t.id, Vault([OLD]))
    before = opened(sessions, Vault([OLD]))
    assert len(before) == 12

    done = rekey(sessions, Vault([NEW, OLD]))

    assert (done.rows, done.secrets, done.unreadable) == (4, 12, [])
    # The old key can go: the new one alone opens everything, unchanged.
    assert opened(sessions, Vault([NEW])) == before
    with pytest.raises(DecryptionError):
        opened(sessions, Vault([OLD]))


def test_a_secret_no_key_opens_is_named_and_left_as_it_is(
    sessions: sessionmaker[Session],
) -> None:
    good, lost = add_tenant(sessions, app_name="good"), add_tenant(sessions, app_name="lost")
    add_sealed_secrets(sessions, good.id, Vault([OLD]))
    add_sealed_secrets(sessions, lost.id, Vault([LOST]))

    done = rekey(sessions, Vault([NEW, OLD]))

    assert done.secrets == 6
    assert len(done.unreadable) == 6
    assert all(f"({lost.id})" in where for where in done.unreadable)
    # Still there, under its own key; the rest under the new one.
    assert len(opened(sessions, Vault([NEW, LOST]))) == 12


def test_the_command_reports_counts_and_fails_while_a_secret_is_unreadable(
    sessions: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tenant = add_tenant(sessions)
    add_sealed_secrets(sessions, tenant.id, Vault([OLD]))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{NEW},{OLD}")
    assert cli.main(["rekey"]) == 0
    out = capsys.readouterr().out
    assert "re-encrypted 6 secrets in 2 rows" in out
    assert "owner-token" not in out and "pw-" not in out

    monkeypatch.setenv("ENCRYPTION_KEYS", NEW)
    add_sealed_secrets(sessions, add_tenant(sessions, app_name="other").id, Vault([LOST]))
    assert cli.main(["rekey"]) == 1
    out = capsys.readouterr().out
    assert "re-encrypted 6 secrets" in out and "no key in ENCRYPTION_KEYS opens" in out
