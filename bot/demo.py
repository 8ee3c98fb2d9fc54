"""`python -m bot demo`: a first run that shows everything in five minutes.

Fills an EMPTY database with one small faculty (two groups, a dozen students, one teacher)
and a session relative to now — an exam today in 30 minutes, a consultation today, an exam
tomorrow, a computer test yesterday already graded — so that the roll call, reminders,
statements (an appeal too), calendars and reports are all reachable at once. Prints the
invite links and a student to link as, and what to try. A database that already holds a
roster or a schedule is refused: the demo never mixes with real data.

The data go in through the same import code as a real roster and schedule, so the demo
shows what an import makes, and the outbox plans its reminders as after any import.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.migrate import upgrade
from bot.db.models import (
    Discipline,
    Exam,
    Faculty,
    GradeChange,
    InviteRole,
    RollEntry,
    Student,
    Teacher,
)
from bot.domain.imports import TableKind
from bot.domain.roll import Grade, Mark
from bot.i18n import Catalogs, ngettext
from bot.i18n import gettext as _
from bot.services.imports import import_roster, import_schedule
from bot.services.onboarding import create_invite
from bot.services.outbox import Outbox
from bot.services.reminders import plan_after_import
from bot.views.texts import form_label, kind_label

FACULTY = "Лечебный факультет (демо)"
TEACHER = "Смирнова Елена Викторовна"
GROUPS: dict[str, list[tuple[str, str]]] = {
    # (full name, record book); the first student of 101 is the one to link as.
    "101": [
        ("Абдуллина Алия Ринатовна", "2610101"),
        ("Белов Артём Сергеевич", "2610102"),
        ("Гарипов Тимур Ильдарович", "2610103"),
        ("Ёлкина Дарья Андреевна", "2610104"),
        ("Захарова Полина Игоревна", "2610105"),
        ("Исмагилов Рустам Маратович", "2610106"),
    ],
    "102": [
        ("Каримов Булат Айратович", "2610201"),
        ("Лебедева Ксения Олеговна", "2610202"),
        ("Мухаметзянов Эмиль Ринатович", "2610203"),
        ("Никитина Вера Павловна", "2610204"),
        ("О'Брайен Анна-Мария", "2610205"),
    ],
}
# Yesterday's computer test, group 101: what each student got (by record book). The one
# to link as failed, so that an appeal and the additional session both have someone.
YESTERDAY: dict[str, tuple[Mark, Grade | None]] = {
    "2610101": (Mark.PRESENT, Grade.FAIL),
    "2610102": (Mark.PRESENT, Grade.EXCELLENT),
    "2610103": (Mark.PRESENT, Grade.GOOD),
    "2610104": (Mark.PRESENT, Grade.SATISFACTORY),
    "2610105": (Mark.EXCUSED, None),
    "2610106": (Mark.ABSENT, None),
}
LINK = "https://my.mts-link.ru/j/demo/{slug}"
MOODLE = "https://moodle.example.org/course/view.php?id={id}"


@dataclass(frozen=True)
class DemoEvent:
    group: str
    discipline: str
    kind: str  # exam | consultation
    form: str
    starts: datetime  # in the university's zone
    minutes: int
    slug: str
    when: str  # for the printout: "soon", "today", "tomorrow", "yesterday"

    @property
    def when_said(self) -> str:
        return {
            "soon": _("today, in 30 min"),
            "today": _("today"),
            "tomorrow": _("tomorrow"),
            "yesterday": _("yesterday"),
        }[self.when]


def demo_events(local_now: datetime) -> list[DemoEvent]:
    """The session around `local_now` (the university's wall clock)."""
    # Whole minutes, never less than 30 from now: the schedule holds HH:MM.
    soon = (local_now + timedelta(minutes=31)).replace(second=0, microsecond=0)
    later = (local_now + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    tomorrow = (local_now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    yesterday = (local_now - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    return [
        DemoEvent("101", "Анатомия", "exam", "oral", soon, 120, "101-anatomy", "soon"),
        DemoEvent(
            "102", "Гистология", "consultation", "oral", later, 60, "102-histology-c", "today"
        ),
        DemoEvent("102", "Гистология", "exam", "written", tomorrow, 90, "102-histol", "tomorrow"),
        DemoEvent("101", "Биохимия", "exam", "test", yesterday, 60, "101-biochem", "yesterday"),
    ]


def roster_csv() -> bytes:
    lines = ["faculty,group,full_name,record_book"]
    lines += [
        f"{FACULTY},{group},{name},{book}"
        for group, students in GROUPS.items()
        for name, book in students
    ]
    return ("\n".join(lines) + "\n").encode()


def schedule_csv(events: list[DemoEvent]) -> bytes:
    lines = ["faculty,group,discipline,kind,form,date,start,duration_min,teacher,link,moodle_url"]
    for n, e in enumerate(events, start=1):
        moodle = MOODLE.format(id=n) if e.kind == "exam" else ""
        lines.append(
            f"{FACULTY},{e.group},{e.discipline},{e.kind},{e.form},{e.starts:%Y-%m-%d},"
            f"{e.starts:%H:%M},{e.minutes},{TEACHER},{LINK.format(slug=e.slug)},{moodle}"
        )
    return ("\n".join(lines) + "\n").encode()


async def holds_data(session: AsyncSession) -> int:
    """How many rows of a roster or a schedule the database holds (0: empty)."""
    total = 0
    for model in (Faculty, Student, Teacher, Exam):
        total += await session.scalar(select(func.count()).select_from(model)) or 0
    return total


async def grade_yesterday(session: AsyncSession) -> None:
    """Yesterday's test as the teacher left it: marked, graded half an hour after its end
    (so the appeal window runs until the end of today), the roll confirmed."""
    exam = await session.scalar(
        select(Exam).join(Discipline).where(Discipline.name == "Биохимия", Exam.kind == "exam")
    )
    assert exam is not None  # imported just before
    posted = exam.starts_at + timedelta(minutes=exam.duration_min + 30)
    students = {
        s.record_book: s
        for s in await session.scalars(select(Student).where(Student.group_id == exam.group_id))
    }
    for book, (mark, grade) in YESTERDAY.items():
        entry = RollEntry(
            exam_id=exam.id,
            student_id=students[book].id,
            mark=mark.value,
            marked_at=exam.starts_at,
            grade=grade.value if grade else None,
            grade_posted_at=posted if grade else None,
        )
        session.add(entry)
        if grade is not None:
            await session.flush()
            session.add(
                # changed_by 0: nobody's Telegram id — the teacher has not joined yet.
                GradeChange(
                    entry_id=entry.id,
                    old_grade=None,
                    new_grade=grade.value,
                    changed_by=0,
                    changed_at=posted,
                )
            )
    exam.roll_confirmed_at = posted
    await session.flush()


async def fill(session: AsyncSession, now: datetime, settings: Settings) -> dict[str, str]:
    """Imports the demo roster and schedule, grades yesterday's test; the invite tokens."""
    events = demo_events(now.astimezone(settings.tz))
    roster = await import_roster(session, "demo-roster.csv", roster_csv())
    schedule = await import_schedule(
        session, "demo-schedule.csv", schedule_csv(events), tz=settings.tz
    )
    if not (roster.ok and schedule.ok):  # the demo's own tables: a bug, not user input
        raise RuntimeError(f"demo import failed: {roster.errors + schedule.errors}")
    await plan_after_import(
        session,
        TableKind.SCHEDULE,
        schedule.changed_exam_ids,
        now=now,
        settings=settings,
        outbox=Outbox(),
    )
    await grade_yesterday(session)
    return {
        "teacher": (await create_invite(session, InviteRole.TEACHER, name=TEACHER)).token,
        "dean": (await create_invite(session, InviteRole.DEAN, name=FACULTY)).token,
        "admin": (await create_invite(session, InviteRole.ADMIN)).token,
    }


async def demo_cli(settings: Settings, now: datetime | None = None) -> int:
    with Catalogs().use(settings.default_locale):
        return await _demo(settings, now or SystemClock().now())


async def _demo(settings: Settings, now: datetime) -> int:
    from bot.cli import bot_username

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_sessionmaker(engine).begin() as session:
            if await holds_data(session):
                print(  # noqa: T201 - the CLI's answer
                    _(
                        "This database already holds a roster or a schedule; the demo fills only "
                        "an empty one (e.g. DATABASE_URL=sqlite+aiosqlite:///data/demo.db)."
                    ),
                    file=sys.stderr,
                )
                return 1
            tokens = await fill(session, now, settings)
    finally:
        await engine.dispose()
    username = await bot_username(settings)
    for line in walkthrough(tokens, username, demo_events(now.astimezone(settings.tz))):
        print(line)  # noqa: T201 - the CLI's output
    return 0


def _link(token: str, username: str | None) -> str:
    if username:
        return f"https://t.me/{username}?start={token}"
    return _("send the bot: /start {token}").format(token=token)


def walkthrough(tokens: dict[str, str], username: str | None, events: list[DemoEvent]) -> list[str]:
    name, book = GROUPS["101"][0]
    students = sum(len(s) for s in GROUPS.values())
    lines = [
        ngettext(
            "Demo data are in: {faculty}, groups {groups}, {count} student, teacher {teacher}.",
            "Demo data are in: {faculty}, groups {groups}, {count} students, teacher {teacher}.",
            students,
        ).format(faculty=FACULTY, groups=", ".join(GROUPS), count=students, teacher=TEACHER),
        "",
    ]
    lines += [
        "  "
        + _("{when}  {discipline}, group {group}: {kind}, {said}").format(
            when=f"{e.starts:%d.%m %H:%M}",
            discipline=e.discipline,
            group=e.group,
            # An exam's form (oral, test, ...); a consultation has none.
            kind=f"{kind_label(e.kind)} ({form_label(e.form)})"
            if e.kind == "exam"
            else kind_label(e.kind),
            said=e.when_said,
        )
        for e in sorted(events, key=lambda e: e.starts)
    ]
    lines += [
        "",
        _("Invite links (one-time; one Telegram account may take several roles):"),
        "  "
        + _("teacher ({name}): {link}").format(
            name=TEACHER, link=_link(tokens["teacher"], username)
        ),
        "  "
        + _("dean's office ({name}): {link}").format(
            name=FACULTY, link=_link(tokens["dean"], username)
        ),
        "  " + _("administrator: {link}").format(link=_link(tokens["admin"], username)),
        "  "
        + _("student: send /start, then the record book {book} and the surname {surname}").format(
            book=book, surname=name.split()[0]
        ),
        "",
        _("Start the bot (python -m bot, or scripts/run), then try:"),
        "  "
        + _(
            "student: /schedule, /calendar, /statement (an appeal about yesterday's {test}), /tz"
        ).format(test="Биохимия"),
        "  "
        + _(
            "teacher: /exams, then the roll of {exam} (marks, tickets, grades, texts to say "
            "aloud), /calendar"
        ).format(exam="Анатомия"),
        "  "
        + _(
            "dean's office: /reports (attendance with a chart, the additional session), /inbox, "
            "/templates"
        ),
        "  "
        + _("everyone: the join call comes 15 minutes before {exam} starts").format(
            exam="Анатомия"
        ),
    ]
    return lines
