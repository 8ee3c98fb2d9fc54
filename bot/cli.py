"""What the command-line subcommands do (`python -m bot import|invite`), printing for people."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import Faculty, InviteRole
from bot.domain.imports import TableKind, parse_date
from bot.domain.mail import normalize_address
from bot.i18n import Catalogs, ngettext
from bot.i18n import gettext as _
from bot.services.deanery_mail import faculty_named, manageable_faculties, set_faculty_email
from bot.services.imports import ImportFileError, import_plan, import_roster, import_schedule
from bot.services.onboarding import InviteError, create_invite
from bot.services.outbox import Outbox
from bot.services.reminders import cancel_exam, outbox_summary, plan_after_import
from bot.services.reports import ReportKind, report_data
from bot.services.roll import RollRules, exam_for_export, load_roll, unlock_roll
from bot.services.schedule import upcoming_exams
from bot.services.semester import SemesterOutcome, set_semester
from bot.services.sheets import sheet_csv, sheet_xlsx, table_csv, table_xlsx
from bot.views.html import plain
from bot.views.reports import render_report, report_title
from bot.views.roll_sheet import build_sheet
from bot.views.texts import (
    distance_warning_text,
    file_error_text,
    import_result_text,
    plan_warning_text,
    summary_text,
)


def _no_exam(exam_id: int) -> str:
    return _("No exam with id {number} (see: python -m bot exam list).").format(number=exam_id)


def _unknown_faculty(name: str, known: list[str]) -> str:
    return _("Unknown faculty “{name}”. Known faculties: {known}.").format(
        name=name, known=", ".join(known) or _("none yet: import the roster first")
    )


def say(text: str) -> None:
    print(text)  # noqa: T201 - the CLI's output


def complain(text: str) -> None:
    print(text, file=sys.stderr)  # noqa: T201


async def bot_username(settings: Settings) -> str | None:
    """BOT_USERNAME, or asked of Telegram when only the token is set."""
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if settings.bot_token is None:
        return None
    # The one CLI path that needs the Telegram stack (seconds to import); the rest never load it.
    from bot.app import create_bot

    bot = create_bot(settings)
    try:
        me = await bot.get_me()
    except Exception as exc:  # offline or a bad token: the bare token still works
        complain(
            _("Could not ask Telegram for the bot's username ({error}).").format(
                error=exc.__class__.__name__
            )
        )
        return None
    finally:
        await bot.session.close()
    return me.username


async def make_invite(settings: Settings, role: InviteRole, name: str | None) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            try:
                invite = await create_invite(session, role, name=name)
            except InviteError as exc:
                if exc.code == "unknown_faculty":
                    complain(_unknown_faculty(name or "", exc.known))
                else:
                    complain(_("The teacher's full name must not be empty."))
                return 1
            token = invite.token
    finally:
        await engine.dispose()
    username = await bot_username(settings)
    if role is InviteRole.TEACHER:
        say(_("One-time invite for the teacher {name}:").format(name=name))
    elif role is InviteRole.DEAN:
        say(_("One-time invite for the dean's office of {name}:").format(name=name))
    else:
        say(_("One-time invite for an administrator:"))
    if username:
        say(f"https://t.me/{username}?start={token}")
    else:
        say(_("(set BOT_USERNAME to get a ready link)"))
    say(_("Token: {token}  (or send the bot: /start {token})").format(token=token))
    return 0


async def import_file(settings: Settings, what: str, filename: str, *, content: bytes) -> int:
    """Imports a roster, schedule or study-plan file; messages in the default locale, like
    the bot's."""
    engine = create_engine(settings.database_url)
    catalogs = Catalogs()
    try:
        await upgrade(engine)
        with catalogs.use(settings.default_locale):
            async with create_sessionmaker(engine).begin() as session:
                try:
                    if what == TableKind.ROSTER:
                        report = await import_roster(session, filename, content)
                    elif what == TableKind.PLAN:
                        report = await import_plan(
                            session,
                            filename,
                            content,
                            distance_limit=settings.plan_distance_limit,
                        )
                    else:
                        report = await import_schedule(session, filename, content, tz=settings.tz)
                except ImportFileError as exc:
                    complain(file_error_text(exc.code))
                    return 1
                text = import_result_text(what, report)
                text += distance_warning_text(report.distance_excesses)
                if report.ok and (report.added or report.updated):
                    planned = await plan_after_import(
                        session,
                        what,
                        report.changed_exam_ids,
                        now=SystemClock().now(),
                        settings=settings,
                        changed_student_ids=report.changed_student_ids,
                        # The bot's sender, another process, finds them when it next looks.
                        outbox=Outbox(),
                    )
                    text += plan_warning_text(planned)
            (say if report.ok else complain)(plain(text))
    finally:
        await engine.dispose()
    return 0 if report.ok else 1


async def show_outbox(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    catalogs = Catalogs()
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            summary = await outbox_summary(session)
        with catalogs.use(settings.default_locale):
            say(plain(summary_text(summary, settings, settings.default_locale)))
    finally:
        await engine.dispose()
    return 0


async def list_exams(settings: Settings) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            exams = await upcoming_exams(session, SystemClock().now())
            for exam in exams:
                local = exam.starts_at.astimezone(settings.tz)
                say(
                    f"{exam.id}\t{local:%Y-%m-%d %H:%M}\t{exam.kind}\t{exam.group.name}\t"
                    f"{exam.discipline.name}"
                )
            if not exams:
                say(_("No upcoming exams."))
    finally:
        await engine.dispose()
    return 0


async def cancel_exam_cli(settings: Settings, exam_id: int) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            report = await cancel_exam(
                session, exam_id, SystemClock().now(), settings=settings, outbox=Outbox()
            )
    finally:
        await engine.dispose()
    if report is None:
        complain(_no_exam(exam_id))
        return 1
    say(
        _(
            "Exam {number} cancelled: pending notices withdrawn: {withdrawn}; students to be "
            "told: {told} (the running bot sends within a minute)."
        ).format(number=exam_id, withdrawn=report.cancelled, told=report.created)
    )
    return 0


async def export_roll_cli(
    settings: Settings, exam_id: int, fmt: str, *, output: Path | None
) -> int:
    """The attendance sheet of one exam as XLSX or CSV, in DEFAULT_LOCALE's captions."""
    engine = create_engine(settings.database_url)
    catalogs = Catalogs()
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            exam = await exam_for_export(session, exam_id)
            if exam is None:
                complain(_no_exam(exam_id))
                return 1
            view = await load_roll(session, exam, SystemClock().now(), rules=RollRules.of(settings))
            await session.commit()  # the roll's rows, created on first look
            with catalogs.use(settings.default_locale):
                sheet, name = build_sheet(view, settings, settings.default_locale)
    finally:
        await engine.dispose()
    content = sheet_xlsx(sheet) if fmt == "xlsx" else sheet_csv(sheet)
    target = output or Path(f"{name}.{fmt}")
    target.write_bytes(content)
    say(
        ngettext(
            "Sheet of exam {number} ({count} student) written to {path}",
            "Sheet of exam {number} ({count} students) written to {path}",
            len(sheet.rows),
        ).format(number=exam_id, count=len(sheet.rows), path=target)
    )
    return 0


async def unlock_roll_cli(settings: Settings, exam_id: int) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            unlocked = await unlock_roll(session, exam_id)
    finally:
        await engine.dispose()
    if not unlocked:
        complain(
            _("Exam {number} does not exist or its roll is not confirmed.").format(number=exam_id)
        )
        return 1
    say(
        _(
            "The roll of exam {number} is open again; the teacher can correct and confirm it."
        ).format(number=exam_id)
    )
    return 0


async def report_cli(
    settings: Settings, kind: str, faculty: str | None, *, fmt: str, output: Path | None
) -> int:
    """A report for one faculty (by name) or all, in DEFAULT_LOCALE's captions."""
    engine = create_engine(settings.database_url)
    catalogs = Catalogs()
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            scope: frozenset[int] | None = None
            if faculty is not None:
                found = await session.scalar(select(Faculty.id).where(Faculty.name == faculty))
                if found is None:
                    complain(_("No faculty named “{name}”.").format(name=faculty))
                    return 1
                scope = frozenset({found})
            with catalogs.use(settings.default_locale):
                data = await report_data(
                    session,
                    ReportKind(kind),
                    scope,
                    now=SystemClock().now(),
                    rules=RollRules.of(settings),
                )
                report = render_report(data, settings)
    finally:
        await engine.dispose()
    content = table_xlsx(report.table) if fmt == "xlsx" else table_csv(report.table)
    target = output or Path(f"{report.file_name}.{fmt}")
    target.write_bytes(content)
    say(
        ngettext(
            "{title} ({count} row) written to {path}",
            "{title} ({count} rows) written to {path}",
            len(report.table.rows),
        ).format(title=report_title(ReportKind(kind)), count=len(report.table.rows), path=target)
    )
    return 0


async def faculty_email_cli(settings: Settings, name: str, address: str | None) -> int:
    """Shows, sets or (with "off") clears the faculty's dean's office e-mail."""
    new: str | None = None
    if address is not None and address.casefold() != "off":
        new = normalize_address(address)
        if new is None:
            complain(
                _("“{address}” is not an e-mail address (such as dean@university.ru).").format(
                    address=address
                )
            )
            return 1
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            faculties = await manageable_faculties(session, True, frozenset())
            faculty = faculty_named(faculties, name)
            if faculty is None:
                complain(_unknown_faculty(name, [f.name for f in faculties]))
                return 1
            if address is None:
                say(f"{faculty.name}: {faculty.email or _('no e-mail set')}")
                return 0
            await set_faculty_email(session, True, frozenset(), faculty_id=faculty.id, address=new)
    finally:
        await engine.dispose()
    if new is None:
        say(_("Statements of {faculty} are no longer e-mailed.").format(faculty=faculty.name))
        return 0
    say(
        _("Every new statement of {faculty} will also be e-mailed to {address}.").format(
            faculty=faculty.name, address=new
        )
    )
    if settings.smtp is None:
        say(_("SMTP_URL is not set: nothing is e-mailed until it is."))
    return 0


async def semester_cli(settings: Settings, start: str, end: str) -> int:
    starts_on, ends_on = parse_date(start), parse_date(end)
    if starts_on is None or ends_on is None:
        complain(_("Dates as DD.MM.YYYY or YYYY-MM-DD, e.g. semester 09.02.2027 30.06.2027."))
        return 2
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            outcome = await set_semester(session, starts_on, ends_on, by=None)
    finally:
        await engine.dispose()
    if outcome is SemesterOutcome.BAD_ORDER:
        complain(_("The end must come after the start; nothing was changed."))
        return 1
    say(
        _(
            "Semester {start} — {end} saved; on its first day the bot reminds teachers and "
            "deletes the past session's kept documents."
        ).format(start=f"{starts_on:%d.%m.%Y}", end=f"{ends_on:%d.%m.%Y}")
    )
    return 0
