"""What the teacher says on the recording (§2.6), for the chat's console and the Mini App."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from bot.domain.exams import ExamForm
from bot.domain.roll import Mark, closing_text, count, opening_text, recording_file_name
from bot.services.roll.console import RollView


@dataclass(frozen=True)
class Aloud:
    """What the teacher says on the recording (the regulation's Russian wording): the
    opening (one a subgroup), the closing (None for a computer test) and the file name."""

    openings: list[str]
    closing: str | None
    file_name: str


def texts_aloud(view: RollView, tz: tzinfo) -> Aloud:
    exam = view.exam
    form = ExamForm(exam.form)
    regular = [s for s in exam.subgroups if not s.individual]
    openings = [
        opening_text(
            form,
            exam.discipline.name,
            subgroup.starts_at.astimezone(tz),
            subgroup=subgroup.number,
            present=sum(
                1 for x in view.lines if x.subgroup == subgroup.number and x.mark is Mark.PRESENT
            ),
        )
        for subgroup in regular
    ] or [
        opening_text(
            form,
            exam.discipline.name,
            exam.starts_at.astimezone(tz),
            subgroup=None,
            present=view.counts.present,
        )
    ]
    teacher = exam.teacher.full_name if exam.teacher is not None else ""
    return Aloud(
        openings,
        closing_text(form, count(x.mark for x in view.lines)),
        recording_file_name(
            exam.discipline.name,
            exam.starts_at.astimezone(tz),
            exam.group.name,
            teacher=teacher,
            form=form,
        ),
    )
