"""The attendance sheet (ведомость) of a roll: the rows and captions, in the reader's
language; bot.services.sheets turns it into XLSX and CSV."""

from __future__ import annotations

from bot.config import Settings
from bot.domain.exams import ExamForm
from bot.domain.roll import closing_text, count, sheet_file_name
from bot.i18n import gettext as _
from bot.services.roll import RollView
from bot.services.sheets import Sheet, SheetRow
from bot.views import dates
from bot.views.texts import form_label, grade_name, mark_name


def build_sheet(view: RollView, settings: Settings, locale: str) -> tuple[Sheet, str]:
    """The sheet, and a file name (without extension) safe on every system."""
    exam = view.exam
    uni = settings.tz
    teacher = exam.teacher.full_name if exam.teacher is not None else ""
    header = [
        _("Teacher: {name}").format(name=teacher),
        _("Form: {form}").format(form=form_label(exam.form)),
        _("Faculty: {faculty}").format(faculty=exam.group.faculty.name),
    ]
    if exam.roll_confirmed_at is not None:
        confirmed = dates.when(exam.roll_confirmed_at, uni, locale, year=True)
        header.append(_("Confirmed: {when}").format(when=confirmed))
    else:
        header.append(_("Not confirmed yet"))
    rows = [
        SheetRow(
            number=number,
            full_name=line.student.full_name,
            record_book=line.student.record_book,
            group=exam.group.name,
            subgroup=str(line.subgroup or ""),
            attendance=mark_name(line.mark),
            grade=grade_name(line.entry.grade),
            ticket=str(line.entry.ticket or ""),
        )
        for number, line in enumerate(view.lines, start=1)
    ]
    closing = closing_text(ExamForm(exam.form), count(x.mark for x in view.lines))
    sheet = Sheet(
        title=_("Attendance sheet: {discipline}, group {group}, {when}").format(
            discipline=exam.discipline.name,
            group=exam.group.name,
            when=dates.when(exam.starts_at, uni, locale, year=True),
        ),
        header_lines=header,
        sheet_name=_("Attendance sheet"),
        columns=[
            _("№"),
            _("Full name"),
            _("Record book"),
            _("Group"),
            _("Subgroup"),
            _("Attendance"),
            _("Grade"),
            _("Ticket"),
        ],
        rows=rows,
        totals=[closing] if closing is not None else [],
    )
    name = sheet_file_name(
        exam.discipline.name, exam.starts_at.astimezone(uni), exam.group.name, teacher=teacher
    )
    return sheet, name
