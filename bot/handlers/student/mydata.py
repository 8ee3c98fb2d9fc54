"""/mydata (§2.1, personal data): a student sees what the bot holds about them, gets it as
a file, and can unlink their Telegram account."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.handlers.busy import showing
from bot.handlers.replies import answer_long, edit_pressed
from bot.keyboards.callbacks import MyDataAction, MyDataCB
from bot.notify.menus import CommandMenus
from bot.services.actors import Actor
from bot.services.mydata import MyData, collect, unlink
from bot.views.html import Html, fmt, join_lines
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


def buttons() -> InlineKeyboardBuilder:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("📄 As a file"), callback_data=MyDataCB(action=MyDataAction.FILE))
    kb.button(text=_("🔓 Unlink my account"), callback_data=MyDataCB(action=MyDataAction.UNLINK))
    kb.adjust(1)
    return kb


async def mydata(message: Message, actor: Actor, session: AsyncSession, student: Student) -> None:
    data = await collect(session, student, actor.user)
    await answer_long(message, summary(data), reply_markup=buttons().as_markup())


async def file_pressed(
    query: CallbackQuery, actor: Actor, session: AsyncSession, student: Student
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    async with showing(query.message, ChatAction.UPLOAD_DOCUMENT):
        data = await collect(session, student, actor.user)
        await query.message.answer_document(
            BufferedInputFile(data.as_json(), filename="mydata.json"),
            caption=_("Everything the bot holds about you, as JSON."),
        )


async def unlink_pressed(query: CallbackQuery, actor: Actor) -> None:
    await query.answer()
    kb = InlineKeyboardBuilder()
    kb.button(text=_("🔓 Yes, unlink"), callback_data=MyDataCB(action=MyDataAction.CONFIRM))
    kb.button(text=_("Keep it"), callback_data=MyDataCB(action=MyDataAction.KEEP))
    await edit_pressed(
        query,
        _(
            "Unlink your Telegram account? You will get no more reminders; to come back, "
            "send /start and your record book again."
        ),
        reply_markup=kb.as_markup(),
    )


async def unlink_confirmed(
    query: CallbackQuery, actor: Actor, session: AsyncSession, menus: CommandMenus, student: Student
) -> None:
    await unlink(session, student, actor.user)
    if actor.teacher or actor.is_dean or actor.is_admin:  # their menu loses a student's
        menus.refresh_after_commit(session, actor.user.id)
    await query.answer()
    await edit_pressed(
        query, _("Done: your Telegram account is unlinked and removed from the bot.")
    )


async def kept(query: CallbackQuery, actor: Actor) -> None:
    await query.answer()
    await edit_pressed(query, _("Nothing was changed."))


def setup() -> Router:
    router = Router(name="student-mydata")
    router.message.register(mydata, Command("mydata"))
    for action, handler in (
        (MyDataAction.FILE, file_pressed),
        (MyDataAction.UNLINK, unlink_pressed),
        (MyDataAction.CONFIRM, unlink_confirmed),
        (MyDataAction.KEEP, kept),
    ):
        router.callback_query.register(handler, MyDataCB.filter(F.action == action))
    return router
