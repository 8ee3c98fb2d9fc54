"""time zone statements: the new start and the teacher's confirmation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch_op:
        batch_op.add_column(sa.Column("new_start", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("teacher_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch_op:
        batch_op.drop_column("teacher_confirmed_at")
        batch_op.drop_column("new_start")
