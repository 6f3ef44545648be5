"""login throttling by counters: per username, per client address and per both

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 18:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

TIMESTAMP = sa.DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("bucket", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("bucket"),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_bin",
    )
    # The cleanup job deletes the counters whose window has passed, in batches.
    op.create_index("ix_login_throttle_window_started", "login_throttle", ["window_started"])


def downgrade() -> None:
    op.drop_table("login_throttle")
