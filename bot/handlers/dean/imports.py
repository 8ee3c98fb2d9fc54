"""Roster, schedule and study-plan import by sending a CSV or XLSX file to the bot (admins
and deans)."""

from __future__ import annotations

from io import BytesIO

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from bot.clock import Clock
from bot.config import Settings
from bot.db.session import AsyncSession
from bot.handlers.replies import answer_long
from bot.services.actors import Actor
from bot.services.imports import ImportFileError, import_table
from bot.services.onboarding import dean_faculties
from bot.services.outbox import Outbox
from bot.services.reminders import plan_after_import
from bot.services.templates import template_faculty, template_files
from bot.views import imports as view
from bot.views.texts import file_error_text

ACCEPTED_SUFFIXES = (".csv", ".xlsx")


async def import_document(
    message: Message,
    bot: Bot,
    actor: Actor,
    session: AsyncSession,
    settings: Settings,
    clock: Clock,
    *,
    outbox: Outbox,
) -> None:
    document = message.document
    assert document is not None
    filename = document.file_name or ""
    if not filename.lower().endswith(ACCEPTED_SUFFIXES):
        await message.answer(file_error_text("unsupported_type"))
        return
    if (document.file_size or 0) > settings.max_upload_bytes:
        await message.answer(view.too_large(settings))
        return
    buffer = BytesIO()
    await bot.download(document, destination=buffer)
    content = buffer.getvalue()
    # The size Telegram reports may be missing; the bytes are what counts.
    if len(content) > settings.max_upload_bytes:
        await message.answer(view.too_large(settings))
        return
    faculties = (
        None
        if actor.is_admin
        else frozenset(f.name for f in await dean_faculties(session, actor.dean_faculty_ids))
    )
    try:
        kind, report = await import_table(
            session,
            filename,
            content,
            tz=settings.tz,
            allowed_faculties=faculties,
            distance_limit=settings.plan_distance_limit,
        )
    except ImportFileError as exc:
        await message.answer(file_error_text(exc.code))
        return
    planned = None
    if report.ok and kind is not None and (report.added or report.updated):
        planned = await plan_after_import(
            session,
            kind,
            report.changed_exam_ids,
            now=clock.now(),
            settings=settings,
            changed_student_ids=report.changed_student_ids,
            outbox=outbox,
        )
    # Every row error is listed: a long list comes in several messages.
    await answer_long(message, view.imported(kind, report, planned))


async def send_templates(
    message: Message, actor: Actor, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    """/templates: the roster, schedule and plan templates, ready to fill in (or to send
    back as they are, to see an import work)."""
    faculty = await template_faculty(session, actor.dean_faculty_ids)
    today = clock.now().astimezone(settings.tz).date()
    await message.answer(view.templates_intro())
    for file in template_files(faculty, today):
        await message.answer_document(
            BufferedInputFile(file.content, filename=file.name),
            caption=view.template_caption(file.name),
        )


def setup() -> Router:
    router = Router(name="dean-imports")
    router.message.register(import_document, F.document)
    router.message.register(send_templates, Command("templates"))
    return router
