"""The console's keyboards: the roll (two buttons a student, 40 a page), a student's card,
and the menus for tickets, subgroups and written work."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from aiogram.utils.i18n import gettext as _

from bot.domain.app_links import app_page
from bot.domain.roll import Grade, Mark, MarkAction, TicketMethod
from bot.i18n import ngettext
from bot.keyboards.callbacks import (
    RollAction,
    RollCB,
    RollGradeCB,
    RollMarkCB,
    RollPartsCB,
    RollSplitCB,
    RollTicketsCB,
    RollWrittenCB,
)

# 40 students x 2 buttons and the action rows stay under Telegram's 100 buttons.
PAGE = 40
ICONS = {
    Mark.UNMARKED: "▫️",
    Mark.PRESENT: "✅",
    Mark.ABSENT: "❌",
    Mark.EXCUSED: "📄",
    Mark.OUTAGE: "⚡",
    Mark.FAILURE: "🔌",
}
GRADE_DIGITS = {
    Grade.EXCELLENT: "5",
    Grade.GOOD: "4",
    Grade.SATISFACTORY: "3",
    Grade.FAIL: "2",
}
TICKET_COUNTS = (10, 15, 20, 25, 30, 40, 50)
SPLIT_PARTS = (2, 3, 4)
SPLIT_GAPS = (20, 30, 45, 60, 90)
WRITTEN_MINUTES = (45, 60, 90, 120, 180)


def _b(text: str, cb: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=cb.pack())


def app_button(base: str | None, chat_id: int, **page: int) -> InlineKeyboardButton | None:
    """Opens the page in the Mini App (WEBAPP_URL `base`): a web_app button in a private
    chat, a link in a group (where Telegram refuses web_app buttons); None without one."""
    if not base:
        return None
    url = app_page(base, **page)
    text = _("📱 Open in the app")
    if chat_id > 0:
        return InlineKeyboardButton(text=text, web_app=WebAppInfo(url=url))
    return InlineKeyboardButton(text=text, url=url)


def short_name(full_name: str) -> str:
    """'Иванова Мария Петровна' -> 'Иванова М. П.'"""
    surname, *rest = full_name.split() or [full_name]
    return " ".join([surname, *(f"{p[0]}." for p in rest if p)])


def roll_keyboard(
    exam_id: int,
    students: list[tuple[int, int, str, Mark]],
    page: int,
    *,
    pages: int,
    locked: bool,
    app: InlineKeyboardButton | None = None,
) -> InlineKeyboardMarkup:
    """students: (number on the roll, student id, full name, mark) of this page; `app`
    opens the roll in the Mini App (a last row of its own)."""
    rows: list[list[InlineKeyboardButton]] = []
    tail = [[app]] if app is not None else []
    if not locked:
        for number, student_id, name, mark in students:
            rows.append(
                [
                    _b(
                        f"{ICONS[mark]} {number}. {short_name(name)}",
                        RollMarkCB(
                            exam_id=exam_id,
                            student_id=student_id,
                            page=page,
                            mark=MarkAction.PRESENT,
                        ),
                    ),
                    _b(
                        f"{number} ⋯",
                        RollCB(
                            action=RollAction.CARD,
                            exam_id=exam_id,
                            student_id=student_id,
                            page=page,
                        ),
                    ),
                ]
            )
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(_b("◀️", RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page - 1)))
        nav.append(
            _b(f"{page + 1}/{pages}", RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page))
        )
        if page + 1 < pages:
            nav.append(_b("▶️", RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page + 1)))
        rows.append(nav)
    if locked:
        rows.append(
            [
                _b(_("📄 Sheet"), RollCB(action=RollAction.SHEET, exam_id=exam_id)),
                _b(_("📢 Texts"), RollCB(action=RollAction.TEXTS, exam_id=exam_id)),
            ]
        )
        return InlineKeyboardMarkup(inline_keyboard=rows + tail)
    rows.append(
        [
            _b(
                _("❌ The rest absent"),
                RollCB(action=RollAction.REST_ABSENT, exam_id=exam_id, page=page),
            ),
            _b(_("🔄 Refresh"), RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page)),
        ]
    )
    rows.append(
        [
            _b(_("🎫 Tickets"), RollCB(action=RollAction.TICKET_MENU, exam_id=exam_id, page=page)),
            _b(_("👥 Subgroups"), RollCB(action=RollAction.SPLIT_MENU, exam_id=exam_id, page=page)),
            _b(_("✍️ Written"), RollCB(action=RollAction.WRITTEN_MENU, exam_id=exam_id, page=page)),
        ]
    )
    rows.append(
        [
            _b(_("📢 Texts"), RollCB(action=RollAction.TEXTS, exam_id=exam_id, page=page)),
            _b(_("🔒 Confirm roll"), RollCB(action=RollAction.CONFIRM, exam_id=exam_id, page=page)),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows + tail)


def card_keyboard(
    exam_id: int,
    student_id: int,
    page: int,
    *,
    mark: Mark,
    pass_fail: bool,
    grades: tuple[Grade, ...],
) -> InlineKeyboardMarkup:
    def mark_cb(action: MarkAction) -> RollMarkCB:
        return RollMarkCB(exam_id=exam_id, student_id=student_id, page=page, mark=action, card=True)

    rows: list[list[InlineKeyboardButton]] = []
    if mark is not Mark.FAILURE:
        rows.append(
            [
                _b(_("✅ Present"), mark_cb(MarkAction.PRESENT)),
                _b(_("❌ Absent"), mark_cb(MarkAction.ABSENT)),
            ]
        )
        outage = (
            _b(_("🔧 Resolved"), mark_cb(MarkAction.RESOLVED))
            if mark is Mark.OUTAGE
            else _b(_("⚡ Outage"), mark_cb(MarkAction.OUTAGE))
        )
        rows.append([_b(_("📄 Valid reason"), mark_cb(MarkAction.EXCUSED)), outage])
    if mark is Mark.PRESENT:
        rows.append(
            [
                _b(
                    f"{GRADE_DIGITS.get(g, '')} {grade_label(g)}".strip(),
                    RollGradeCB(exam_id=exam_id, student_id=student_id, page=page, grade=g),
                )
                for g in grades
            ][: 2 if pass_fail else 4]
        )
    rows.append(
        [_b(_("⬅️ Back to the roll"), RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page))]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def tickets_menu(exam_id: int, page: int) -> InlineKeyboardMarkup:
    def cb(method: TicketMethod, count: int = 0) -> RollTicketsCB:
        return RollTicketsCB(exam_id=exam_id, page=page, method=method, count=count)

    random = TicketMethod.RANDOM
    rows = [
        [_b(_("By the record book's last digit"), cb(TicketMethod.LAST_DIGIT, 10))],
        [_b(_("From a list I send"), cb(TicketMethod.LIST))],
    ]
    rows += [
        [_b(_("Random of {count}").format(count=n), cb(random, n)) for n in TICKET_COUNTS[:4]],
        [_b(_("Random of {count}").format(count=n), cb(random, n)) for n in TICKET_COUNTS[4:]],
    ]
    rows.append(
        [_b(_("⬅️ Back to the roll"), RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page))]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def grade_label(grade: Grade) -> str:
    """A grade in the teacher's language (the sheet and the record book keep the official
    Russian wording)."""
    return {
        Grade.EXCELLENT: _("excellent"),
        Grade.GOOD: _("good"),
        Grade.SATISFACTORY: _("satisfactory"),
        Grade.FAIL: _("unsatisfactory"),
        Grade.PASSED: _("pass"),
        Grade.NOT_PASSED: _("fail"),
    }[grade]


def split_menu(exam_id: int, page: int, parts: int | None) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]]
    if parts is None:
        rows = [
            [
                _b(
                    ngettext("{count} subgroup", "{count} subgroups", n).format(count=n),
                    RollPartsCB(exam_id=exam_id, page=page, parts=n),
                )
                for n in SPLIT_PARTS
            ]
        ]
    else:
        rows = [
            [
                _b(
                    _("{minutes} min apart").format(minutes=m),
                    RollSplitCB(exam_id=exam_id, page=page, parts=parts, minutes=m),
                )
                for m in SPLIT_GAPS[:3]
            ],
            [
                _b(
                    _("{minutes} min apart").format(minutes=m),
                    RollSplitCB(exam_id=exam_id, page=page, parts=parts, minutes=m),
                )
                for m in SPLIT_GAPS[3:]
            ],
        ]
    rows.append(
        [_b(_("⬅️ Back to the roll"), RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page))]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def written_menu(exam_id: int, page: int) -> InlineKeyboardMarkup:
    rows = [
        [
            _b(
                _("{minutes} min").format(minutes=m),
                RollWrittenCB(exam_id=exam_id, page=page, minutes=m),
            )
            for m in WRITTEN_MINUTES
        ],
        [_b(_("⬅️ Back to the roll"), RollCB(action=RollAction.SHOW, exam_id=exam_id, page=page))],
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)
