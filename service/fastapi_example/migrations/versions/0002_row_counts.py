"""row counts kept on write (items), so a list's total needs no COUNT(*) over the table

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 01:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "row_counts",
        sa.Column("table_name", sa.String(64), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("table_name"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    op.execute("INSERT INTO row_counts (table_name, total) SELECT 'items', COUNT(*) FROM items")


def downgrade() -> None:
    op.drop_table("row_counts")
