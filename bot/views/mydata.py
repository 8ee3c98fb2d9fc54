"""/mydata as the student reads it (§2.1, personal data): what the bot holds about them,
the file of it, and unlinking their account."""

from __future__ import annotations

from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import gettext as _
from bot.keyboards.callbacks import MyDataAction, MyDataCB
from bot.services.mydata import MyData
from bot.views.html import Html, fmt, join_lines
from bot.views.screen import Screen
from bot.views.texts import grade_name, kind_name, mark_name, status_name


def summary(data: MyData) -> Html:
    p = data.profile
    lines: list[object] = [
        fmt(_("<b>What the bot holds about you</b>")),
        fmt(
            _("Name: {name}; record book {book}; group {group}, {faculty}"),
            name=p["full_name"],
            book=p["record_book"],
            group=p["group"],
            faculty=p["faculty"],
        ),
        fmt(
            _("Telegram: id {id}, name {name}; language {lang}; time zone {tz}"),
            id=p["telegram_id"],
            name=p["telegram_name"] or "",
            lang=p["language"],
            tz=p["time_zone"] or _("not set"),
        ),
    ]
    lines.append(fmt(_("Statements: {count}"), count=len(data.statements)))
    for s in data.statements:
        lines.append(
            fmt(
                "• №{} {}, {}: {}",
                s["number"],
                kind_name(s["kind"]),
                s["exam"],
                status_name(s["status"]),
            )
        )
    lines.append(fmt(_("Exams on record: {count}"), count=len(data.exams)))
    for e in data.exams:
        grade = grade_name(e["grade"]) if e["grade"] else ""
        lines.append(
            fmt("• {}: {}", e["exam"], mark_name(e["attendance"])) + (f", {grade}" if grade else "")
        )
    lines.append(fmt(_("Files (documents, works): {count}"), count=data.files))
    lines.append("")
    lines.append(
        _(
            "Unlinking removes your Telegram account from the bot; your roster entry and exam "
            "records stay with the university."
        )
    )
    return join_lines(lines)


def summary_screen(data: MyData) -> Screen:
    """What the bot holds, with a file of it and unlinking a press away."""
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📄 As a file"), callback_data=MyDataCB(action=MyDataAction.FILE))
    kb.button(text=_("🔓 Unlink my account"), callback_data=MyDataCB(action=MyDataAction.UNLINK))
    kb.adjust(1)
    return Screen(summary(data), kb.as_markup())


def file_caption() -> str:
    return _("Everything the bot holds about you, as JSON.")


def unlink_question() -> Screen:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔓 Yes, unlink"), callback_data=MyDataCB(action=MyDataAction.CONFIRM))
    kb.button(text=_("Keep it"), callback_data=MyDataCB(action=MyDataAction.KEEP))
    text = _(
        "Unlink your Telegram account? You will get no more reminders; to come back, "
        "send /start and your record book again."
    )
    return Screen(text, kb.as_markup())


def unlinked() -> str:
    return _("Done: your Telegram account is unlinked and removed from the bot.")


def kept() -> str:
    return _("Nothing was changed.")
