"""Merge the h4 (credentials) and h5 (worker records) heads; no schema change.

The coordinator may drop this file when re-chaining the branches' revisions.

Revision ID: 20261201h7merge
Revises: 20261201h4cred, 5a1c0e7b9d21
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "20261201h7merge"
down_revision: str | Sequence[str] | None = ("20261201h4cred", "5a1c0e7b9d21")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
