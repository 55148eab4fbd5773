"""Replay refusal through the database: one sign-in per token, across processes."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from guvscale.db.models import SsoUse
from guvscale.services.sso import MAX_AGE_S, verify
from guvscale.services.sso_uses import first_use
from tests.test_sso_tokens import NOW, SALT, scoped, v3


def test_the_same_sign_in_is_refused_twice_even_from_another_session(
    sessions: sessionmaker[Session],
) -> None:
    claim = verify(v3(), SALT, NOW)
    with sessions.begin() as one:
        assert first_use(one, claim, NOW)
    # A second web process has its own session (and memory): still refused.
    with sessions.begin() as other:
        assert not first_use(other, claim, NOW + 10)


def test_entries_are_forgotten_once_their_window_closed(db: Session) -> None:
    claim = verify(v3(), SALT, NOW)
    assert first_use(db, claim, NOW)
    # By then the token itself is refused as stale; the row is only clutter.
    assert first_use(
        db, verify(v3(ts=NOW + MAX_AGE_S + 5), SALT, NOW + MAX_AGE_S + 5), NOW + 2 * MAX_AGE_S
    )
    assert db.scalar(select(func.count()).select_from(SsoUse)) == 1


def test_two_users_may_sign_in_within_the_same_second(db: Session) -> None:
    alice = verify(v3(user_scoped_resource_token=scoped().hex()), SALT, NOW)
    bob_fields = v3(
        user_id="user-2",
        email="bob@example.com",
        user_scoped_resource_token=scoped(user_id="user-2", email="bob@example.com").hex(),
    )
    assert first_use(db, alice, NOW)
    assert first_use(db, verify(bob_fields, SALT, NOW), NOW)


def test_a_stripped_user_scoped_sign_in_is_refused(db: Session) -> None:
    assert first_use(db, verify(v3(user_scoped_resource_token=scoped().hex()), SALT, NOW), NOW)
    # Same form, user-scoped token removed, email swapped: the plain token is spent.
    assert not first_use(db, verify(v3(email="mallory@example.com"), SALT, NOW), NOW)


def test_no_token_is_stored(db: Session) -> None:
    fields = v3()
    first_use(db, verify(fields, SALT, NOW), NOW)
    stored = " ".join(db.scalars(select(SsoUse.key_digest)))
    assert fields["resource_token"] not in stored
    assert len(stored) == 64
