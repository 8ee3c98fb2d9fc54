"""/mydata (§2.1, personal data): a student sees what the bot holds about them, gets it as
a file, and can unlink their Telegram account."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.db.models import Student
from bot.db.session import AsyncSession
from bot.handlers.busy import showing
from bot.handlers.replies import answer_long, edit_into, edit_pressed
from bot.keyboards.callbacks import MyDataAction, MyDataCB
from bot.notify.menus import CommandMenus
from bot.services.actors import Actor
from bot.services.mydata import collect, unlink
from bot.views import mydata as view


async def mydata(message: Message, actor: Actor, session: AsyncSession, student: Student) -> None:
    data = await collect(session, student, actor.user)
    screen = view.summary_screen(data)
    await answer_long(message, screen.text, reply_markup=screen.markup)


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
            caption=view.file_caption(),
        )


async def unlink_pressed(query: CallbackQuery, actor: Actor) -> None:
    await query.answer()
    await edit_into(query, view.unlink_question())


async def unlink_confirmed(
    query: CallbackQuery, actor: Actor, session: AsyncSession, menus: CommandMenus, student: Student
) -> None:
    await unlink(session, student, actor.user)
    if actor.teacher or actor.is_dean or actor.is_admin:  # their menu loses a student's
        menus.refresh_after_commit(session, actor.user.id)
    await query.answer()
    await edit_pressed(query, view.unlinked())


async def kept(query: CallbackQuery, actor: Actor) -> None:
    await query.answer()
    await edit_pressed(query, view.kept())


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
