"""Merge point of h4's and h5's revisions (branch h6 only; drop when main re-chains them).

Revision ID: 20261201h6merge
Revises: 20261201h4cred, 5a1c0e7b9d21
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "20261201h6merge"
down_revision: str | Sequence[str] | None = ("20261201h4cred", "5a1c0e7b9d21")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
