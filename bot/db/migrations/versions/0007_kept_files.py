"""kept files: where a statement's document or an exam work is stored on disk

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("statement_files", "exam_works"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("stored_path", sa.String(length=500), nullable=True))


def downgrade() -> None:
    for table in ("exam_works", "statement_files"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("stored_path")
