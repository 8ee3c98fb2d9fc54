"""Cancelling an exam withdraws its reminders, not the statements about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.models import Exam, Notice, NoticeStatus, Student, Subgroup, SubgroupMember, User
from bot.domain.reminders import NoticeKind
from bot.services.imports import import_roster, import_schedule
from bot.services.outbox import Outbox
from bot.services.reminders import announce_link, cancel_exam, plan_exam

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def sample_session(session: AsyncSession) -> Settings:
    """The sample roster and schedule imported; the settings they were read with."""
    settings = Settings(_env_file=None)
    roster, schedule = (
        (SAMPLES / "roster.csv").read_bytes(),
        (SAMPLES / "schedule.csv").read_bytes(),
    )
    assert (await import_roster(session, "r.csv", roster)).ok
    assert (await import_schedule(session, "s.csv", schedule, tz=settings.tz)).ok
    return settings


async def link(session: AsyncSession, student: Student, user_id: int) -> None:
    """The student's Telegram account, linked now."""
    session.add(User(id=user_id, first_name="Анна", locale="ru"))
    await session.flush()
    student.user_id, student.linked_at = user_id, NOW
    await session.flush()


async def exam_and_student(
    session: AsyncSession, user_id: int, *where: ColumnElement[bool]
) -> tuple[Exam, Student]:
    """The first exam still ahead (of those `where` lets through) and a student of its
    group, whose Telegram account `user_id` is linked now."""
    exam = await session.scalar(
        select(Exam).where(Exam.starts_at > NOW, *where).order_by(Exam.starts_at)
    )
    assert exam is not None
    student = await session.scalar(select(Student).where(Student.group_id == exam.group_id))
    assert student is not None
    await link(session, student, user_id)
    return exam, student


async def went_out(session: AsyncSession, *kinds: NoticeKind) -> None:
    """The notices of these kinds still waiting are sent (as the sender would mark them)."""
    await session.execute(
        update(Notice)
        .where(Notice.kind.in_(kinds), Notice.status == NoticeStatus.PENDING)
        .values(status="sent")
    )


async def carded_for_own_sitting(
    session: AsyncSession, settings: Settings, exam: Exam, student: Student
) -> datetime:
    """The student sits the exam on their own the next day (11:30 Moscow), and their card
    for it has gone out, 23 hours before; that moment is returned."""
    own = exam.starts_at + timedelta(days=1, hours=3)
    sitting = Subgroup(exam_id=exam.id, number=9, starts_at=own, individual=True)
    session.add(sitting)
    await session.flush()
    session.add(SubgroupMember(exam_id=exam.id, subgroup_id=sitting.id, student_id=student.id))
    await session.flush()
    now = own - timedelta(hours=23)
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    await went_out(session, NoticeKind.DAY_BEFORE)
    return now


async def test_cancel_keeps_statement_notices(session: AsyncSession) -> None:
    settings = await sample_session(session)
    exam_id = await session.scalar(select(Exam.id).order_by(Exam.id))
    assert exam_id is not None
    due, until = NOW + timedelta(days=1), NOW + timedelta(days=30)
    for key, kind in (("day_before:x", "day_before"), ("statement:1:-100", "statement")):
        session.add(
            Notice(
                key=key,
                kind=kind,
                chat_id=-100,
                exam_id=exam_id,
                payload={},
                due_at=due,
                expires_at=until,
                status="pending",
                attempts=0,
            )
        )
    await session.flush()
    report = await cancel_exam(session, exam_id, NOW, settings=settings, outbox=Outbox())
    assert report is not None and report.cancelled == 1
    statuses = dict((await session.execute(select(Notice.kind, Notice.status))).all())
    assert statuses == {"day_before": "cancelled", "statement": "pending"}


async def test_cancel_tells_a_student_whose_card_is_going_out(session: AsyncSession) -> None:
    """The card is claimed (on its way, perhaps on screen) and not yet marked sent when the
    exam is cancelled: the student is told of the cancellation too (a race seen in the
    end-to-end test when the sender's marks lag behind Telegram's answers)."""
    settings = await sample_session(session)
    exam, student = await exam_and_student(session, 777_001)
    day_before = exam.starts_at - timedelta(hours=23)
    await plan_exam(session, exam.id, day_before, settings=settings, outbox=Outbox())
    cards = list(
        await session.scalars(
            select(Notice).where(
                Notice.exam_id == exam.id,
                Notice.kind == NoticeKind.DAY_BEFORE,
                Notice.student_id == student.id,
            )
        )
    )
    assert len(cards) == 1
    cards[0].status = NoticeStatus.CLAIMED
    await session.flush()
    report = await cancel_exam(session, exam.id, day_before, settings=settings, outbox=Outbox())
    assert report is not None and report.created == 1
    told = await session.scalar(
        select(func.count())
        .select_from(Notice)
        .where(Notice.student_id == student.id, Notice.kind == NoticeKind.CANCELLED)
    )
    assert told == 1


async def test_a_new_link_reaches_a_student_whose_card_is_going_out(
    session: AsyncSession,
) -> None:
    """The card is claimed (rendered already, perhaps with no link or the old one) when
    the teacher posts the link: the student gets the link too, as one whose card is
    marked sent does. Told twice, at worst, beats a card without the link."""
    settings = await sample_session(session)
    exam = await session.scalar(
        select(Exam).where(Exam.starts_at > NOW, Exam.link.is_(None)).order_by(Exam.starts_at)
    )
    assert exam is not None
    students = list(
        await session.scalars(select(Student).where(Student.group_id == exam.group_id).limit(3))
    )
    for i, student in enumerate(students):
        await link(session, student, 777_101 + i)
    day_before = exam.starts_at - timedelta(hours=23)
    await plan_exam(session, exam.id, day_before, settings=settings, outbox=Outbox())
    cards = {
        card.student_id: card
        for card in await session.scalars(
            select(Notice).where(Notice.exam_id == exam.id, Notice.kind == NoticeKind.DAY_BEFORE)
        )
    }
    going, gone, waiting = (cards[s.id] for s in students)
    going.status = NoticeStatus.CLAIMED
    gone.status = NoticeStatus.SENT
    assert waiting.status == NoticeStatus.PENDING  # its card will show the link itself
    exam.link = "https://meet.example/exam?a=1&b=<2>"
    await session.flush()
    await announce_link(session, exam, day_before, settings=settings, outbox=Outbox())
    told = set(
        await session.scalars(
            select(Notice.student_id).where(
                Notice.exam_id == exam.id, Notice.kind == NoticeKind.LINK_CHANGED
            )
        )
    )
    assert told == {going.student_id, gone.student_id}


async def test_an_exam_moved_and_moved_back_tells_the_student_and_calls_them(
    session: AsyncSession,
) -> None:
    """The dean moves an exam two hours earlier (the student is told), then back to its
    old time: the student must hear of the move back, and get the join call for the old
    time, whose withdrawn notice is owed again."""
    from bot.services.desk import move_exam

    settings = await sample_session(session)
    exam, student = await exam_and_student(session, 777_201, Exam.kind == "exam")
    start = exam.starts_at
    now = start - timedelta(hours=23)
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    await went_out(session, NoticeKind.DAY_BEFORE)  # the card

    now += timedelta(hours=1)
    await move_exam(
        session, exam, start - timedelta(hours=2), now=now, settings=settings, outbox=Outbox()
    )
    await went_out(session, NoticeKind.TIME_CHANGED)  # "the time has changed"

    now += timedelta(hours=1)
    await move_exam(session, exam, start, now=now, settings=settings, outbox=Outbox())
    rows = await session.execute(
        select(Notice.kind, Notice.status, Notice.payload).where(
            Notice.exam_id == exam.id, Notice.student_id == student.id
        )
    )
    pending = [
        (kind, payload.get("start")) for kind, status, payload in rows if status == "pending"
    ]
    assert sorted(pending) == [
        (NoticeKind.JOIN_CALL.value, start.isoformat()),
        (NoticeKind.TIME_CHANGED.value, start.isoformat()),
    ]


async def test_a_time_change_not_yet_sent_is_withdrawn_when_the_exam_moves_back(
    session: AsyncSession,
) -> None:
    """Moved earlier and straight back before "the time has changed" went out: the student
    must not be sent the earlier time, which no longer holds."""
    from bot.services.desk import move_exam

    settings = await sample_session(session)
    exam, student = await exam_and_student(session, 777_301, Exam.kind == "exam")
    start = exam.starts_at
    now = start - timedelta(hours=23)
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    await went_out(session, NoticeKind.DAY_BEFORE)
    await move_exam(
        session, exam, start - timedelta(hours=2), now=now, settings=settings, outbox=Outbox()
    )
    await move_exam(session, exam, start, now=now, settings=settings, outbox=Outbox())
    changes = await session.scalars(
        select(Notice.status).where(
            Notice.student_id == student.id, Notice.kind == NoticeKind.TIME_CHANGED
        )
    )
    assert list(changes) == ["cancelled"]


async def test_a_cancellation_names_the_students_own_sitting(session: AsyncSession) -> None:
    """A student who sits at their own time (a later subgroup, or an individual sitting
    on another day) is told that *their* sitting is cancelled, not the group's first."""
    from bot.app import create_i18n
    from bot.notify.render import render_notice

    settings = await sample_session(session)
    exam, student = await exam_and_student(session, 777_401, Exam.kind == "exam")
    now = await carded_for_own_sitting(session, settings, exam, student)
    await cancel_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    await session.commit()
    session.expunge_all()  # read afresh, as the sender does
    notice = await session.scalar(select(Notice).where(Notice.kind == NoticeKind.CANCELLED))
    assert notice is not None
    rendered = await render_notice(session, notice, settings=settings, i18n=create_i18n(settings))
    assert rendered is not None
    assert "24 декабря, 11:30 МСК" in rendered.text, rendered.text


async def test_a_new_link_reaches_a_student_sitting_after_the_group(
    session: AsyncSession,
) -> None:
    """The group has sat the exam; one student sits it tomorrow on their own (an approved
    time-zone statement) and has their card. A link changed now must reach them."""
    settings = await sample_session(session)
    exam, student = await exam_and_student(session, 777_501, Exam.kind == "exam")
    now = await carded_for_own_sitting(session, settings, exam, student)
    exam.link = "https://meet.example/new"
    await session.flush()
    await announce_link(session, exam, now, settings=settings, outbox=Outbox())
    told = await session.scalars(
        select(Notice.student_id).where(Notice.kind == NoticeKind.LINK_CHANGED)
    )
    assert list(told) == [student.id]


async def test_an_exam_moved_back_and_forth_announces_every_move(session: AsyncSession) -> None:
    """12:00 → 10:00 → 12:00 → 10:00, each move told: the last one as well, though a move
    to 10:00 was announced once already (its notice's key was taken)."""
    from bot.services.desk import move_exam

    settings = await sample_session(session)
    exam, student = await exam_and_student(session, 777_601, Exam.kind == "exam")
    start, earlier = exam.starts_at, exam.starts_at - timedelta(hours=2)
    now = start - timedelta(hours=23)
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    for moved_to in (earlier, start, earlier):
        await went_out(session, NoticeKind.DAY_BEFORE, NoticeKind.TIME_CHANGED)
        now += timedelta(minutes=30)
        await move_exam(session, exam, moved_to, now=now, settings=settings, outbox=Outbox())
    pending = await session.scalars(
        select(Notice.payload).where(
            Notice.student_id == student.id,
            Notice.kind == NoticeKind.TIME_CHANGED,
            Notice.status == NoticeStatus.PENDING,
        )
    )
    assert [p["start"] for p in pending] == [earlier.isoformat()]
    # Planned again, nothing new: the move is announced once.
    report = await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    assert report.created == 0


async def test_link_reminders_follow_the_exam_to_its_new_teacher(session: AsyncSession) -> None:
    """The schedule gives the exam another teacher while its link is missing: the
    reminders to post it go to the new teacher, not the one who no longer runs it."""
    from bot.db.models import Teacher

    settings = await sample_session(session)
    exam = await session.scalar(
        select(Exam)
        .where(Exam.starts_at > NOW, Exam.link.is_(None), Exam.teacher_id.is_not(None))
        .order_by(Exam.starts_at)
    )
    assert exam is not None
    old = await session.get(Teacher, exam.teacher_id)
    assert old is not None
    new = Teacher(full_name="Новиков Павел Андреевич")
    session.add_all(
        [
            new,
            User(id=777_701, first_name="A", locale="ru"),
            User(id=777_702, first_name="B", locale="ru"),
        ]
    )
    await session.flush()
    old.user_id, new.user_id = 777_701, 777_702
    await session.flush()
    now = exam.starts_at - timedelta(days=3)
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    exam.teacher_id = new.id
    await session.flush()
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    nags = await session.scalars(
        select(Notice.chat_id).where(
            Notice.kind == NoticeKind.LINK_NAG, Notice.status == NoticeStatus.PENDING
        )
    )
    assert set(nags) == {777_702}


async def test_a_link_changed_back_is_announced_again(session: AsyncSession) -> None:
    """The teacher posts a link, replaces it by mistake, then puts the first one back: the
    students told of the mistaken one hear of the return too (its key was taken)."""
    settings = await sample_session(session)
    exam, _ = await exam_and_student(session, 777_801, Exam.link.is_(None))
    now = exam.starts_at - timedelta(hours=23)
    await plan_exam(session, exam.id, now, settings=settings, outbox=Outbox())
    right, wrong = "https://meet.example/right", "https://meet.example/wrong"
    for posted in (right, wrong, right):
        await went_out(session, NoticeKind.DAY_BEFORE, NoticeKind.LINK_CHANGED)
        exam.link = posted
        await session.flush()
        now += timedelta(minutes=10)
        await announce_link(session, exam, now, settings=settings, outbox=Outbox())
    pending = await session.scalars(
        select(Notice.payload).where(
            Notice.kind == NoticeKind.LINK_CHANGED, Notice.status == NoticeStatus.PENDING
        )
    )
    assert [p["link"] for p in pending] == [right]
    report = await announce_link(session, exam, now, settings=settings, outbox=Outbox())
    assert report.created == 0
