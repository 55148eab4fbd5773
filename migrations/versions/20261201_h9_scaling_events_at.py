"""scaling_events: an index on `at`, for pruning events older than 90 days

Revision ID: 20261201h9evat
Revises: 3c1d2e4f5a6b
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "20261201h9evat"
down_revision: str | None = "3c1d2e4f5a6b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_scaling_events_at", "scaling_events", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scaling_events_at", table_name="scaling_events")
