"""The command menus Telegram shows: one per role and per language.

Students (and anyone not yet linked) see the default menu of every private chat; each
linked teacher, dean's office member and administrator gets a menu of their own chat
(`BotCommandScopeChat`) with their commands and the common ones; a bound dean's office
chat gets the dean's office commands, other group chats only /bind and /help. Every menu
is set in Russian and English (`language_code`) and, for any other client language, in
DEFAULT_LOCALE.

A chat's menu is read from the database when it is set, so a role change (an invite
redeemed, a chat bound, an account unlinked) asks for it after its transaction commits
(`refresh_after_commit`); the calls then go one at a time in a task of their own, through
the Bot's request middleware that waits out a 429. At start the default menus are set and
then, in the background, the bot's description and short description (read back first,
set only when changed) and the menus of the staff chats, which are few (students have no
menu of their own).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from enum import StrEnum
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    MenuButtonDefault,
    MenuButtonWebApp,
    WebAppInfo,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import SUPPORTED_LOCALES, Settings
from bot.db.models import Admin, DeaneryChat, DeanMember, Student, Teacher, User

log = logging.getLogger(__name__)

Scope = (
    BotCommandScopeDefault
    | BotCommandScopeAllPrivateChats
    | BotCommandScopeAllGroupChats
    | BotCommandScopeChat
)


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    DEAN = "dean"
    ADMIN = "admin"
    DEANERY_CHAT = "deanery_chat"  # a group chat bound as a dean's office chat
    GROUP = "group"  # any other group chat


def _descriptions() -> dict[str, str]:
    """Every command's line in the menu, in the active locale (at most 256 characters)."""
    return {
        "start": _("Start / link your account"),
        "schedule": _("My exams and consultations"),
        "calendar": _("Schedule as a calendar file"),
        "statement": _("A statement to the dean's office"),
        "statements": _("My statements and their status"),
        "plan": _("My individual study plan"),
        "mydata": _("My data; unlink my account"),
        "exams": _("My exams: links and the roll call"),
        "inbox": _("Undecided statements"),
        "additional": _("The additional session's list"),
        "reports": _("Reports as XLSX and CSV"),
        "templates": _("Import templates: roster, schedule, plans"),
        "announce": _("A message to a group, a faculty or an exam"),
        "invite": _("Invite a teacher, a dean or an admin"),
        "email": _("The dean's office e-mail"),
        "status": _("The outbox of notices"),
        "semester": _("The semester's dates"),
        "unlock": _("Reopen a confirmed roll: /unlock N"),
        "bind": _("Make this chat the dean's office chat"),
        "tz": _("My time zone"),
        "lang": _("Language"),
        "help": _("What the bot can do"),
        "cancel": _("Stop the current dialogue"),
    }


# In menu order; a chat with several roles gets each command once, in this order.
_BY_ROLE: dict[Role, tuple[str, ...]] = {
    Role.STUDENT: ("schedule", "calendar", "statement", "statements", "plan", "mydata"),
    Role.TEACHER: ("exams", "calendar"),
    Role.DEAN: ("inbox", "additional", "reports", "templates", "announce", "invite", "email"),
    Role.ADMIN: (
        "status",
        "reports",
        "templates",
        "announce",
        "invite",
        "email",
        "semester",
        "unlock",
    ),
    Role.DEANERY_CHAT: ("inbox", "additional", "reports"),
    Role.GROUP: ("bind",),
}
_PRIVATE_COMMON = ("tz", "lang", "help", "cancel")
STAFF = frozenset({Role.TEACHER, Role.DEAN, Role.ADMIN})
# Whose private chat opens the Mini App from its menu button (WEBAPP_URL set).
WEB_APP_ROLES = STAFF


def command_names(roles: Iterable[Role]) -> list[str]:
    """The commands of a chat with these roles; no roles is the default (a newcomer's)."""
    held = set(roles)
    names: list[str] = []
    if held & {Role.DEANERY_CHAT, Role.GROUP}:
        wanted = [c for role in Role if role in held for c in _BY_ROLE[role]] + ["help"]
    else:
        first = [] if held & STAFF else ["start"]  # staff came in by invite already
        if not held & STAFF:
            held.add(Role.STUDENT)  # the default menu: a student, or one about to link
        wanted = first + [c for role in Role if role in held for c in _BY_ROLE[role]]
        wanted += list(_PRIVATE_COMMON)
    for name in wanted:
        if name not in names:
            names.append(name)
    return names


def command_list(i18n: I18n, locale: str, roles: Iterable[Role]) -> list[BotCommand]:
    with i18n.context(), i18n.use_locale(locale):
        lines = _descriptions()
        return [BotCommand(command=c, description=lines[c]) for c in command_names(roles)]


async def chat_roles(session: AsyncSession, chat_id: int, admin_ids: frozenset[int]) -> set[Role]:
    """What the chat's menu is for, from the database as it is now."""
    if chat_id < 0:  # a group chat
        bound = await session.scalar(select(DeaneryChat).where(DeaneryChat.chat_id == chat_id))
        return {Role.DEANERY_CHAT} if bound is not None else {Role.GROUP}
    roles: set[Role] = set()
    if await session.scalar(select(Student.id).where(Student.user_id == chat_id)):
        roles.add(Role.STUDENT)
    if await session.scalar(select(Teacher.id).where(Teacher.user_id == chat_id)):
        roles.add(Role.TEACHER)
    if await session.scalar(select(DeanMember.id).where(DeanMember.user_id == chat_id)):
        roles.add(Role.DEAN)
    if chat_id in admin_ids or await session.get(Admin, chat_id) is not None:
        roles.add(Role.ADMIN)
    return roles


async def staff_chats(session: AsyncSession, admin_ids: frozenset[int]) -> list[int]:
    """Every chat with a menu of its own: staff and bound dean's office chats."""
    chats = set(admin_ids)
    chats.update(await session.scalars(select(Teacher.user_id).where(Teacher.user_id.is_not(None))))
    chats.update(await session.scalars(select(DeanMember.user_id)))
    chats.update(await session.scalars(select(Admin.user_id)))
    chats.update(await session.scalars(select(DeaneryChat.chat_id)))
    return sorted(c for c in chats if c is not None)


def descriptions() -> tuple[str, str]:
    """The bot's description (the empty chat's "What can this bot do?", at most 512
    characters) and short description (its profile and shared links, at most 120)."""
    return (
        _(
            "Examinator guides you through the exam session: your exams and consultations "
            "with reminders and conference links, statements to the dean's office (another "
            "time, an absence, an appeal) and your individual study plan. Teachers hold the "
            "roll call here, and the dean's office decides statements.\n\nPress Start and "
            "link your account with your record book number."
        ),
        _("The exam session: schedule, reminders, conference links, statements."),
    )


class CommandMenus:
    """Sets the menus; one request at a time, each chat's read fresh when its turn comes."""

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        i18n: I18n,
        settings: Settings,
    ) -> None:
        self._bot = bot
        self._sessionmaker = sessionmaker
        self._i18n = i18n
        self._settings = settings
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def _languages(self) -> list[tuple[str | None, str]]:
        """(language_code, locale): ru and en, and None for any other client language."""
        return [(None, self._settings.default_locale)] + [(c, c) for c in SUPPORTED_LOCALES]

    async def _set(self, scope: Scope, roles: Iterable[Role]) -> None:
        roles = frozenset(roles)
        for code, locale in self._languages():
            await self._bot.set_my_commands(
                command_list(self._i18n, locale, roles), scope=scope, language_code=code
            )

    async def _drop(self, chat_id: int) -> None:
        """The chat falls back to the default menu (its roles are gone)."""
        for code, _locale in self._languages():
            try:
                await self._bot.delete_my_commands(
                    scope=BotCommandScopeChat(chat_id=chat_id), language_code=code
                )
            except TelegramBadRequest as exc:  # a chat the bot can no longer see
                log.info("menu of chat %s not dropped: %s", chat_id, exc.message)

    async def set_defaults(self) -> None:
        """Every private chat (students, newcomers) and every group chat."""
        async with self._lock:
            await self._set(BotCommandScopeDefault(), ())
            await self._set(BotCommandScopeAllGroupChats(), {Role.GROUP})

    async def set_chat(self, chat_id: int) -> None:
        async with self._lock:
            async with self._sessionmaker() as session:
                roles = await chat_roles(session, chat_id, self._settings.admin_ids)
                locale = await session.scalar(select(User.locale).where(User.id == chat_id))
            if chat_id > 0 and not roles & STAFF:
                await self._drop(chat_id)
                await self._web_app_button(chat_id, set(), locale)
                return
            try:
                await self._set(BotCommandScopeChat(chat_id=chat_id), roles)
                await self._web_app_button(chat_id, roles, locale)
            except TelegramBadRequest as exc:  # "chat not found": the bot was never there
                log.info("menu of chat %s not set: %s", chat_id, exc.message)

    async def _web_app_button(self, chat_id: int, roles: set[Role], locale: str | None) -> None:
        """With WEBAPP_URL, a teacher's, a dean's or an admin's private chat opens the Mini
        App from its menu button; a chat whose roles are gone gets the commands back."""
        url = self._settings.webapp_url
        if url is None or chat_id < 0:
            return
        if roles & WEB_APP_ROLES:
            with (
                self._i18n.context(),
                self._i18n.use_locale(locale or self._settings.default_locale),
            ):
                text = _("Desk")
            button: MenuButtonWebApp | MenuButtonDefault = MenuButtonWebApp(
                text=text, web_app=WebAppInfo(url=url)
            )
        else:
            button = MenuButtonDefault()
        await self._bot.set_chat_menu_button(chat_id=chat_id, menu_button=button)

    async def set_descriptions(self) -> None:
        """In every language; each read back first and set only when it differs (Telegram
        limits how often a bot's profile may change)."""
        for code, locale in self._languages():
            with self._i18n.context(), self._i18n.use_locale(locale):
                long, short = descriptions()
            current = await self._bot.get_my_description(language_code=code)
            if current.description != long:
                await self._bot.set_my_description(long, language_code=code)
            current_short = await self._bot.get_my_short_description(language_code=code)
            if current_short.short_description != short:
                await self._bot.set_my_short_description(short, language_code=code)

    async def set_start_menus(self) -> None:
        """At start, before the first update: the default menus (a failure is logged; the
        bot works without menus). The staff chats' follow in the background (`start`)."""
        try:
            await self.set_defaults()
        except TelegramAPIError:
            log.exception("could not register the bot's commands; going on without them")

    async def _set_staff(self) -> None:
        try:
            await self.set_descriptions()
        except TelegramAPIError:
            log.exception("could not set the bot's description; going on without it")
        try:
            async with self._sessionmaker() as session:
                chats = await staff_chats(session, self._settings.admin_ids)
            for chat_id in chats:  # a few dozen, one at a time
                await self.set_chat(chat_id)
            log.info("command menus set for %d staff chat(s)", len(chats))
        except TelegramAPIError:
            log.exception("could not set the staff's command menus; going on without them")

    def refresh(self, chat_ids: Iterable[int]) -> None:
        """Sets these chats' menus in the background (the caller's data is committed)."""
        for chat_id in chat_ids:
            self._spawn(self._refresh_one(chat_id))

    def refresh_after_commit(self, session: AsyncSession, *chat_ids: int) -> None:
        """Once the session's transaction commits (never if it rolls back)."""
        targets = list(chat_ids)

        def committed(_session: object) -> None:
            self.refresh(targets)

        event.listen(session.sync_session, "after_commit", committed, once=True)

    def start(self) -> None:
        self._spawn(self._set_staff())

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_one(self, chat_id: int) -> None:
        try:
            await self.set_chat(chat_id)
        except Exception:
            log.exception("could not set the command menu of chat %s", chat_id)

    async def idle(self) -> None:
        """Until every menu asked for is set (tests; shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
