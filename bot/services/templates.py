"""/templates: the three import templates (roster, schedule, study plans) as XLSX files a
dean can fill in, with the Russian headers and sample rows dated from today, so that each
file, sent back unchanged, imports (roster first: the plans name its record books).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Faculty
from bot.domain.imports import HEADINGS, PLAN_COLUMNS, ROSTER_COLUMNS, SCHEDULE_COLUMNS
from bot.services.onboarding import dean_faculties

GROUP = "101"
STUDENTS = (
    ("Абдуллина Алия Ринатовна", "2690101"),
    ("Белов Артём Сергеевич", "2690102"),
    ("Ёлкина Дарья Андреевна", "2690103"),
    ("О'Брайен Анна-Мария", "2690104"),
)
TEACHER = "Смирнова Елена Викторовна"
# Appendix 1's columns; the optional level and limit are left out (the setting applies).
_PLAN_SHOWN = tuple(c for c in PLAN_COLUMNS if c not in ("programme_level", "distance_limit"))
DEFAULT_FACULTY = "Лечебный факультет"


@dataclass(frozen=True, slots=True)
class TemplateFile:
    name: str
    content: bytes


def _d(day: date) -> str:
    return day.strftime("%d.%m.%Y")  # as a Russian spreadsheet writes a date


def roster_rows(faculty: str) -> list[list[str]]:
    return [[faculty, GROUP, name, book] for name, book in STUDENTS]


def schedule_rows(faculty: str, today: date) -> list[list[str]]:
    week = today + timedelta(days=7)
    link = "https://my.mts-link.ru/j/12345/101-anatomy"
    moodle = "https://moodle.example.ru/course/view.php?id=101"
    return [
        [faculty, GROUP, "Анатомия", "консультация", "устно", _d(week), "14:00", "90", TEACHER,
         link, ""],
        [faculty, GROUP, "Анатомия", "экзамен", "комбинированная", _d(week + timedelta(days=1)),
         "09:00", "240", TEACHER, link, moodle],
        [faculty, GROUP, "Биохимия", "зачёт", "тестирование", _d(week + timedelta(days=2)),
         "12:00", "60", TEACHER, link, moodle],
        [faculty, GROUP, "Латинский язык", "экзамен", "письменная работа",
         _d(week + timedelta(days=4)), "10:00", "90", TEACHER, "", ""],
    ]  # fmt: skip


def plan_rows(today: date) -> list[list[str]]:
    book = STUDENTS[0][1]
    deadline = _d(today + timedelta(days=30))
    return [
        [book, "Анатомия", "Кафедра анатомии человека", "4", "36", "0", "54", "40",
         "Moodle, курс «Анатомия»; консультации по четвергам в 15:00", deadline, TEACHER],
        [book, "Латинский язык", "Кафедра иностранных языков", "2", "0", "0", "36", "24",
         "Ауд. 214, пятница, 10:00", deadline, TEACHER],
    ]  # fmt: skip


def _xlsx(columns: tuple[str, ...], rows: list[list[str]]) -> bytes:
    # openpyxl is slow to import; only this command and the exports need it.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new Workbook always has one sheet
    headers = [HEADINGS[c] for c in columns]
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append(values)
    for cells in sheet.iter_rows(min_row=2):
        for text_cell in cells:
            text_cell.number_format = "@"  # text: record books and dates stay as typed
    for i, header in enumerate(headers, start=1):
        widest = max([len(header), *(len(r[i - 1]) for r in rows)])
        sheet.column_dimensions[get_column_letter(i)].width = min(widest + 2, 60)
    sheet.freeze_panes = "A2"
    out = BytesIO()
    workbook.save(out)
    return out.getvalue()


def template_files(faculty: str, today: date) -> list[TemplateFile]:
    """Roster, schedule and plans for `faculty` (the dean's own, so they import as they
    are), the schedule's dates a week or so from `today` and the plans' deadline a month."""
    return [
        TemplateFile("roster.xlsx", _xlsx(ROSTER_COLUMNS, roster_rows(faculty))),
        TemplateFile("schedule.xlsx", _xlsx(SCHEDULE_COLUMNS, schedule_rows(faculty, today))),
        TemplateFile("plan.xlsx", _xlsx(_PLAN_SHOWN, plan_rows(today))),
    ]


async def template_faculty(session: AsyncSession, faculty_ids: frozenset[int]) -> str:
    """The faculty the templates name: the dean's own (so that they import as they are),
    else the first one known, else a sample name."""
    own = await dean_faculties(session, faculty_ids)
    if own:
        return own[0].name
    first = await session.scalar(select(Faculty.name).order_by(Faculty.name).limit(1))
    return first or DEFAULT_FACULTY
