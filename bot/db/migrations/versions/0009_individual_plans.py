"""individual plans: each student's disciplines with hours, place and time, and deadline

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("discipline", sa.String(length=255), nullable=False),
        sa.Column("department", sa.String(length=255), nullable=False),
        sa.Column("ects", sa.Float(), nullable=True),
        sa.Column("lecture_hours", sa.Integer(), nullable=False),
        sa.Column("lab_hours", sa.Integer(), nullable=False),
        sa.Column("practice_hours", sa.Integer(), nullable=False),
        sa.Column("distance_hours", sa.Integer(), nullable=False),
        sa.Column("place_time", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("teacher", sa.String(length=255), nullable=False),
        sa.Column("programme_level", sa.String(length=16), nullable=False),
        sa.Column("distance_limit", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_plan_items_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_items")),
        sa.UniqueConstraint("student_id", "discipline", name="uq_plan_items_student_discipline"),
    )


def downgrade() -> None:
    op.drop_table("plan_items")
