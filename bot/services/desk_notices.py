"""What the dean's desk's notices say: announcements, and the retention reminder to
teachers. They are about no exam, so they are rendered apart from the exam notices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Announcement, Notice, User
from bot.domain.reminders import NoticeKind
from bot.i18n import gettext as _
from bot.services.rendered import Rendered
from bot.views.html import fmt

if TYPE_CHECKING:
    from aiogram.utils.i18n import I18n

DESK_KINDS = frozenset({NoticeKind.ANNOUNCEMENT, NoticeKind.RETENTION})


async def render_desk_notice(
    session: AsyncSession, notice: Notice, settings: Settings, i18n: I18n
) -> Rendered | None:
    user = await session.get(User, notice.user_id) if notice.user_id is not None else None
    locale = user.locale if user is not None else settings.default_locale
    with i18n.context(), i18n.use_locale(locale):
        if notice.kind == NoticeKind.RETENTION:
            return Rendered(
                fmt(
                    _(
                        "🗑 The new semester begins on {date}. Under the regulation, the video "
                        "recordings of the past session's exams and the students' written works "
                        "kept on your computer are to be destroyed now. The bot has deleted the "
                        "copies it kept itself."
                    ),
                    date=str(notice.payload.get("starts_on", "")),
                )
            )
        announcement = await session.get(Announcement, int(notice.payload.get("announcement", 0)))
        if announcement is None:
            return None
        text = fmt(_("📢 <b>From the dean's office</b>")) + "\n\n" + announcement.text
        files: tuple[tuple[str, str], ...] = ()
        if announcement.file_kind and announcement.file_id:
            files = ((announcement.file_kind, announcement.file_id),)
        return Rendered(text, files=files)
