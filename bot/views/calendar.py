"""A student's or a teacher's schedule as an iCalendar (.ics) file, importable into any
calendar app."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.i18n import gettext as _
from bot.services.schedule import ScheduleItem
from bot.views.texts import form_label, kind_label


def schedule_ics(
    items: list[ScheduleItem], now: datetime, institution: str, *, for_teacher: bool = False
) -> bytes:
    """`for_teacher`: the group (and subgroup) in each title, as a teacher has many."""
    # Imported on first use: ~3 MB the running bot would otherwise hold for a rare /calendar.
    from icalendar import Calendar, Event, vText

    cal = Calendar()
    cal.add("prodid", "-//Examinator//exam session//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    # TEXT, escaped as such: icalendar writes an X- property it does not know verbatim.
    name = _("Exam session — {institution}").format(institution=institution)
    cal.add("x-wr-calname", vText(name))
    for item in items:
        exam = item.exam
        event = Event()
        # Stable per exam and subgroup, so re-importing the file updates instead of duplicating.
        event.add("uid", f"exam-{exam.id}-{item.subgroup or 0}@examinator")
        event.add("dtstamp", now)
        event.add("dtstart", item.starts_at)
        event.add("dtend", item.starts_at + timedelta(minutes=exam.duration_min))
        summary = f"{exam.discipline.name} — {kind_label(exam.kind, exam.pass_fail)}"
        details = [_("Form: {form}").format(form=form_label(exam.form))]
        if for_teacher:
            summary += ", " + _("group {group}").format(group=exam.group.name)
            if item.subgroup is not None:
                details.append(_("Subgroup: {number}").format(number=item.subgroup))
        event.add("summary", summary)
        if exam.teacher is not None and not for_teacher:
            details.append(_("Teacher: {name}").format(name=exam.teacher.full_name))
        if exam.link:
            details.append(_("Conference: {url}").format(url=exam.link))
            event.add("url", exam.link)
            event.add("location", exam.link)
        if exam.moodle_url:
            details.append(_("Moodle: {url}").format(url=exam.moodle_url))
        event.add("description", "\n".join(details))
        cal.add_component(event)
    return bytes(cal.to_ical())
