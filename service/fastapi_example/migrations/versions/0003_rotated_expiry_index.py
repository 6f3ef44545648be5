"""an index on rotated_refresh_tokens.expires_at, so the cleanup job deletes them in batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 05:45:00
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_rotated_refresh_tokens_expires_at", "rotated_refresh_tokens", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_rotated_refresh_tokens_expires_at", table_name="rotated_refresh_tokens")
