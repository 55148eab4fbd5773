"""credentials: app id/name, broker source, management URL; resources.dry_run

Revision ID: 20261201h4cred
Revises: 89fc64f5e364
Create Date: 2026-12-01 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201h4cred"
# The head at 6bd6d5e (PLAN.md said 95e8147efd0f, but 89fc64f5e364 follows it).
# The coordinator re-chains this after the other branches' revisions at merge.
down_revision: str | None = "89fc64f5e364"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("credentials", sa.Column("management_url_enc", sa.LargeBinary(), nullable=True))
    op.add_column("credentials", sa.Column("heroku_app_id", sa.String(length=64), nullable=True))
    op.add_column("credentials", sa.Column("heroku_app_name", sa.String(length=100), nullable=True))
    op.add_column("credentials", sa.Column("broker_source", sa.String(length=40), nullable=True))
    op.add_column(
        "resources",
        sa.Column("dry_run", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("resources", "dry_run")
    op.drop_column("credentials", "broker_source")
    op.drop_column("credentials", "heroku_app_name")
    op.drop_column("credentials", "heroku_app_id")
    op.drop_column("credentials", "management_url_enc")
