"""roll call: attendance, outages, grades (the appeal window's record), tickets, written work

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 04:02:02.066648
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exam_works",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_id", sa.String(length=255), nullable=False),
        sa.Column("file_unique_id", sa.String(length=64), nullable=False),
        sa.Column("mime_type", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("media_group_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"], ["exams.id"], name=op.f("fk_exam_works_exam_id_exams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_exam_works_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_works")),
    )
    with op.batch_alter_table("exam_works", schema=None) as batch_op:
        batch_op.create_index("ix_exam_works_exam_student", ["exam_id", "student_id"], unique=False)

    op.create_table(
        "roll_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("student_id", sa.Integer(), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.Column("marked_by", sa.BigInteger(), nullable=True),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outage_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outage_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ticket", sa.Integer(), nullable=True),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("grade_posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("graded_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exams.id"],
            name=op.f("fk_roll_entries_exam_id_exams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["student_id"],
            ["students.id"],
            name=op.f("fk_roll_entries_student_id_students"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roll_entries")),
        sa.UniqueConstraint("exam_id", "student_id", name="uq_roll_entries_exam"),
    )
    with op.batch_alter_table("roll_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_roll_entries_student_id"), ["student_id"], unique=False
        )

    op.create_table(
        "grade_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("old_grade", sa.String(length=16), nullable=True),
        sa.Column("new_grade", sa.String(length=16), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["roll_entries.id"],
            name=op.f("fk_grade_changes_entry_id_roll_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_changes")),
    )
    with op.batch_alter_table("grade_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grade_changes_entry_id"), ["entry_id"], unique=False)

    with op.batch_alter_table("exams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pass_fail", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("roll_confirmed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("roll_confirmed_by", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("ticket_method", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("ticket_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("ticket_seed", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("tickets_handed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("written_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("written_minutes", sa.Integer(), nullable=True))

    with op.batch_alter_table("subgroups", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("individual", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("subgroups", schema=None) as batch_op:
        batch_op.drop_column("individual")

    with op.batch_alter_table("exams", schema=None) as batch_op:
        batch_op.drop_column("written_minutes")
        batch_op.drop_column("written_started_at")
        batch_op.drop_column("tickets_handed_at")
        batch_op.drop_column("ticket_seed")
        batch_op.drop_column("ticket_count")
        batch_op.drop_column("ticket_method")
        batch_op.drop_column("roll_confirmed_by")
        batch_op.drop_column("roll_confirmed_at")
        batch_op.drop_column("pass_fail")

    with op.batch_alter_table("grade_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grade_changes_entry_id"))

    op.drop_table("grade_changes")
    with op.batch_alter_table("roll_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roll_entries_student_id"))

    op.drop_table("roll_entries")
    with op.batch_alter_table("exam_works", schema=None) as batch_op:
        batch_op.drop_index("ix_exam_works_exam_student")

    op.drop_table("exam_works")
