"""appeal violation: which part of the procedure an appeal says was violated

Revision ID: 0018
Revises: 0011
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("statements") as batch_op:
        batch_op.add_column(sa.Column("violation", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("statements") as batch_op:
        batch_op.drop_column("violation")
