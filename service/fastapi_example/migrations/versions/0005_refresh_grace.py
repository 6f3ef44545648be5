"""rotated refresh tokens keep when they were exchanged and their successors' salt, so an
exchange repeated within the grace period gets the same new pair

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 19:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: tokens exchanged before this revision get no grace.
    op.add_column("rotated_refresh_tokens", sa.Column("rotated_at", TIMESTAMP, nullable=True))
    op.add_column("rotated_refresh_tokens", sa.Column("salt", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rotated_refresh_tokens") as table:
        table.drop_column("salt")
        table.drop_column("rotated_at")
