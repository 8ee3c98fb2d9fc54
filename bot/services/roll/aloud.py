"""What the teacher says on the recording (§2.6), for the chat's console and the Mini App."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.domain.exams import ExamForm
from bot.domain.roll import Mark, closing_text, count, opening_text, recording_file_name
from bot.services.roll.console import RollView


@dataclass(frozen=True)
class Aloud:
    """What the teacher says on the recording (the regulation's Russian wording): the
    opening (one a subgroup), the closing (None for a computer test) and the recording's
    file name (one a subgroup, each with its own start: a recording each, and two names
    alike would overwrite one another)."""

    openings: list[str]
    closing: str | None
    file_names: list[str]


def texts_aloud(view: RollView, tz: tzinfo) -> Aloud:
    exam = view.exam
    form = ExamForm(exam.form)
    regular = sorted((s for s in exam.subgroups if not s.individual), key=lambda s: s.number)
    sittings: list[tuple[int | None, datetime]] = [(s.number, s.starts_at) for s in regular]
    sittings = sittings or [(None, exam.starts_at)]
    teacher = exam.teacher.full_name if exam.teacher is not None else ""
    openings = [
        opening_text(
            form,
            exam.discipline.name,
            starts_at.astimezone(tz),
            subgroup=number,
            present=sum(
                1
                for x in view.lines
                if x.mark is Mark.PRESENT and (number is None or x.subgroup == number)
            ),
        )
        for number, starts_at in sittings
    ]
    file_names = [
        recording_file_name(
            exam.discipline.name,
            starts_at.astimezone(tz),
            exam.group.name,
            teacher=teacher,
            form=form,
        )
        for _number, starts_at in sittings
    ]
    return Aloud(openings, closing_text(form, count(x.mark for x in view.lines)), file_names)
