"""The dean's office letter's wording: plain Russian (a document for the dean's office, not
a reply in the user's language); shared labels (kinds, reasons, grades, dates) come from the
catalogs in that locale. What the letter is made of is `bot.services.deanery_mail`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import Settings
from bot.db.models import Statement
from bot.services.deanery_mail import LETTER_LOCALE, Letter, LetterFacts
from bot.views import dates
from bot.views.texts import grade_name, kind_label, kind_name, reason_name, violation_name

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n


def render_letter(facts: LetterFacts, settings: Settings, i18n: I18n) -> Letter:
    with i18n.context(), i18n.use_locale(LETTER_LOCALE):
        subject, body = letter_text(
            facts.statement, settings, facts.grade, follow_up=facts.follow_up
        )
    return Letter(facts.address, subject, body, facts.attachments, facts.reference)


def letter_text(
    statement: Statement,
    settings: Settings,
    grade: str | None = None,
    *,
    follow_up: int | None = None,
) -> tuple[str, str]:
    """Subject and body, in Russian; `follow_up` is the number of documents added later
    (a letter about them), None for the statement itself. Call in the ru locale."""
    student = statement.student
    exam = statement.exam
    kind = kind_name(statement.kind)
    who = f"{student.full_name}, {student.group.name}"
    when = dates.when(exam.starts_at, settings.tz, LETTER_LOCALE, year=True)
    if follow_up is None:
        subject = f"Заявление №{statement.id}: {kind} — {who}"
        intro = (
            f"Заявление подано студентом через Telegram-бот ({settings.institution_name}) "
            f"{dates.when(statement.submitted_at, settings.tz, LETTER_LOCALE, year=True)}. "
            "Решение принимается в боте: карточка заявления отправлена в деканат."
        )
    else:
        subject = f"Заявление №{statement.id}: дополнительные документы — {who}"
        intro = f"К заявлению №{statement.id} студент добавил документы: {follow_up}."
    lines = [
        intro,
        "",
        f"Студент: {student.full_name}",
        f"Группа: {student.group.name} ({student.group.faculty.name})",
        f"Номер зачётной книжки: {student.record_book}",
        f"Экзамен: {exam.discipline.name} — {kind_label(exam.kind, exam.pass_fail)}, {when}",
        f"Вид заявления: {kind}",
    ]
    if statement.reason:
        lines.append(f"Причина: {reason_name(statement.reason)}")
    if statement.violation:
        lines.append(f"Нарушение процедуры: {violation_name(statement.violation)}")
    if statement.time_zone:
        lines.append(f"Часовой пояс студента: {statement.time_zone}")
        lines.append(f"Удобное время: {statement.window or '—'}")
    if grade:
        lines.append(f"Оценка: {grade_name(grade)}")
    if statement.text and follow_up is None:
        lines += ["", "Текст заявления:", statement.text]
    # A header never holds a line break (the roster's names are typed by people).
    return " ".join(subject.split()), "\n".join(lines)
