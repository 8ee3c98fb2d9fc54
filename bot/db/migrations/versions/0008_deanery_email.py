"""deanery e-mail: the address a faculty's statements are also e-mailed to

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faculties") as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faculties") as batch_op:
        batch_op.drop_column("email")
