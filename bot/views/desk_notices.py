"""What the dean's desk's notices say: announcements, and the retention reminder to
teachers. They are about no exam, so they are rendered apart from the exam notices."""

from __future__ import annotations

from bot.domain.reminders import NoticeKind
from bot.i18n import gettext as _
from bot.services.notice_facts import DeskFacts
from bot.views.html import fmt
from bot.views.rendered import Rendered


def render_desk_notice(facts: DeskFacts) -> Rendered | None:
    """In the recipient's locale, set by the caller."""
    notice = facts.notice
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
    announcement = facts.announcement
    if announcement is None:
        return None
    text = fmt(_("📢 <b>From the dean's office</b>")) + "\n\n" + announcement.text
    files: tuple[tuple[str, str], ...] = ()
    if announcement.file_kind and announcement.file_id:
        files = ((announcement.file_kind, announcement.file_id),)
    return Rendered(text, files=files)
