"""Onboarding against a real database: roster matching, linking, invites, deanery chats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import (
    Admin,
    DeaneryChat,
    DeanMember,
    Faculty,
    Invite,
    InviteRole,
    LoginAttempt,
    Student,
    Teacher,
    User,
)
from bot.services.imports import import_roster
from bot.services.onboarding import (
    InviteError,
    LinkOutcome,
    RedeemOutcome,
    bind_deanery_chat,
    confirm_link,
    create_invite,
    find_roster_entry,
    redeem_invite,
)

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
LIMIT = 3
MEDICAL = "Лечебный факультет"
PEDIATRIC = "Педиатрический факультет"


async def make_user(session: AsyncSession, user_id: int) -> User:
    user = User(id=user_id, first_name=f"user{user_id}", locale="ru")
    session.add(user)
    await session.flush()
    return user


async def count(session: AsyncSession, model: type[object], *where: object) -> int:
    query = select(func.count()).select_from(model)
    for clause in where:
        query = query.where(clause)  # type: ignore[arg-type]
    return (await session.scalar(query)) or 0


async def student_id(session: AsyncSession, record_book: str) -> int:
    found = await session.scalar(select(Student.id).where(Student.record_book == record_book))
    assert found is not None
    return found


async def faculty_id(session: AsyncSession, name: str) -> int:
    found = await session.scalar(select(Faculty.id).where(Faculty.name == name))
    assert found is not None
    return found


@pytest.fixture
async def roster(session: AsyncSession) -> AsyncSession:
    """The sample roster (10 students, two faculties), committed."""
    report = await import_roster(session, "roster.csv", (SAMPLES / "roster.csv").read_bytes())
    assert report.ok and report.added == 10
    await session.commit()
    return session


# --- find_roster_entry ------------------------------------------------------------------


async def test_find_matches_record_book_and_surname_loosely(roster: AsyncSession) -> None:
    user = await make_user(roster, 1)
    # Spaces in the number, another case, е for ё, and the whole ФИО typed: all match.
    result = await find_roster_entry(
        roster, user, " 2611 004 ", surname="ЕЛКИНА Дарья", now=NOW, limit=LIMIT, window=HOUR
    )
    assert result.outcome is LinkOutcome.FOUND
    assert result.student is not None
    assert result.student.full_name == "Ёлкина Дарья Андреевна"
    assert result.student.group.name == "1101"
    assert result.student.group.faculty.name == MEDICAL
    assert result.budget is not None and result.budget.left == LIMIT
    assert await count(roster, LoginAttempt) == 0


@pytest.mark.parametrize(
    ("record_book", "surname"),
    [("9999999", "Белов"), ("2611002", "Белова"), ("2611002", "Абдуллина")],
    ids=["unknown-number", "wrong-surname", "someone-elses-surname"],
)
async def test_not_found_records_an_attempt(
    roster: AsyncSession, record_book: str, surname: str
) -> None:
    user = await make_user(roster, 1)
    other = await make_user(roster, 2)
    result = await find_roster_entry(
        roster, user, record_book, surname=surname, now=NOW, limit=LIMIT, window=HOUR
    )
    assert result.outcome is LinkOutcome.NOT_FOUND
    assert result.student is None
    assert result.budget is not None and result.budget.left == LIMIT - 1
    assert await count(roster, LoginAttempt, LoginAttempt.user_id == user.id) == 1
    assert await count(roster, LoginAttempt, LoginAttempt.user_id == other.id) == 0


async def test_entry_linked_to_another_account_is_taken(roster: AsyncSession) -> None:
    owner = await make_user(roster, 1)
    intruder = await make_user(roster, 2)
    linked = await confirm_link(roster, owner, await student_id(roster, "2611002"), now=NOW)
    assert linked.outcome is LinkOutcome.LINKED

    taken = await find_roster_entry(
        roster, intruder, "2611002", surname="Белов", now=NOW, limit=LIMIT, window=HOUR
    )
    assert taken.outcome is LinkOutcome.TAKEN
    assert taken.student is not None and taken.student.record_book == "2611002"
    # A correct match is not a failed attempt.
    assert await count(roster, LoginAttempt) == 0
    # The owner finding their own entry again is fine.
    mine = await find_roster_entry(
        roster, owner, "2611002", surname="Белов", now=NOW, limit=LIMIT, window=HOUR
    )
    assert mine.outcome is LinkOutcome.FOUND


async def test_limited_after_failures_and_free_again_after_window(roster: AsyncSession) -> None:
    user = await make_user(roster, 1)
    first = NOW
    for minute in range(LIMIT):
        at = first + timedelta(minutes=minute)
        result = await find_roster_entry(
            roster, user, "0000000", surname="Никто", now=at, limit=LIMIT, window=HOUR
        )
        assert result.outcome is LinkOutcome.NOT_FOUND
        assert result.budget is not None and result.budget.left == LIMIT - minute - 1
    assert result.budget is not None and result.budget.retry_at == first + HOUR

    # Even the right answer is refused while the budget is spent, and costs nothing.
    later = first + timedelta(minutes=30)
    limited = await find_roster_entry(
        roster, user, "2611002", surname="Белов", now=later, limit=LIMIT, window=HOUR
    )
    assert limited.outcome is LinkOutcome.LIMITED
    assert limited.student is None
    assert limited.budget is not None
    assert limited.budget.left == 0 and limited.budget.retry_at == first + HOUR
    assert await count(roster, LoginAttempt) == LIMIT

    just_before = first + HOUR - timedelta(seconds=1)
    still = await find_roster_entry(
        roster, user, "2611002", surname="Белов", now=just_before, limit=LIMIT, window=HOUR
    )
    assert still.outcome is LinkOutcome.LIMITED

    # The oldest failure leaves the window exactly an hour later.
    again = await find_roster_entry(
        roster, user, "2611002", surname="Белов", now=first + HOUR, limit=LIMIT, window=HOUR
    )
    assert again.outcome is LinkOutcome.FOUND
    assert again.budget is not None and again.budget.left == 1


async def test_other_users_failures_do_not_count(roster: AsyncSession) -> None:
    guesser = await make_user(roster, 1)
    student = await make_user(roster, 2)
    for minute in range(LIMIT):
        at = NOW + timedelta(minutes=minute)
        await find_roster_entry(
            roster, guesser, "0000000", surname="Никто", now=at, limit=LIMIT, window=HOUR
        )
    later = NOW + timedelta(minutes=5)
    assert (
        await find_roster_entry(
            roster, guesser, "2611002", surname="Белов", now=later, limit=LIMIT, window=HOUR
        )
    ).outcome is LinkOutcome.LIMITED
    result = await find_roster_entry(
        roster, student, "2611002", surname="Белов", now=later, limit=LIMIT, window=HOUR
    )
    assert result.outcome is LinkOutcome.FOUND


# --- confirm_link -----------------------------------------------------------------------


async def test_confirm_links_and_clears_own_failed_attempts(roster: AsyncSession) -> None:
    user = await make_user(roster, 1)
    other = await make_user(roster, 2)
    await find_roster_entry(
        roster, user, "0000000", surname="Никто", now=NOW, limit=LIMIT, window=HOUR
    )
    await find_roster_entry(
        roster, other, "0000000", surname="Никто", now=NOW, limit=LIMIT, window=HOUR
    )
    sid = await student_id(roster, "2611002")
    linked_at = NOW + timedelta(minutes=1)

    result = await confirm_link(roster, user, sid, now=linked_at)
    assert result.outcome is LinkOutcome.LINKED
    assert result.student is not None and result.student.id == sid
    await roster.commit()

    row = (
        await roster.execute(select(Student.user_id, Student.linked_at).where(Student.id == sid))
    ).one()
    assert row.user_id == user.id
    assert row.linked_at == linked_at
    assert await count(roster, LoginAttempt, LoginAttempt.user_id == user.id) == 0
    assert await count(roster, LoginAttempt, LoginAttempt.user_id == other.id) == 1

    # Confirming again (a double tap) changes nothing.
    again = await confirm_link(roster, user, sid, now=linked_at + HOUR)
    assert again.outcome is LinkOutcome.LINKED
    assert await roster.scalar(select(Student.linked_at).where(Student.id == sid)) == linked_at


async def test_confirm_refuses_second_entry_for_one_account(roster: AsyncSession) -> None:
    user = await make_user(roster, 1)
    first = await student_id(roster, "2611001")
    second = await student_id(roster, "2611002")
    assert (await confirm_link(roster, user, first, now=NOW)).outcome is LinkOutcome.LINKED

    result = await confirm_link(roster, user, second, now=NOW)
    assert result.outcome is LinkOutcome.ALREADY
    assert result.student is not None and result.student.id == first
    assert await roster.scalar(select(Student.user_id).where(Student.id == second)) is None


async def test_confirm_refuses_entry_someone_else_got_first(roster: AsyncSession) -> None:
    winner = await make_user(roster, 1)
    loser = await make_user(roster, 2)
    sid = await student_id(roster, "2611002")
    # Both were shown the match; the winner confirms first.
    assert (
        await find_roster_entry(
            roster, loser, "2611002", surname="Белов", now=NOW, limit=LIMIT, window=HOUR
        )
    ).outcome is LinkOutcome.FOUND
    assert (await confirm_link(roster, winner, sid, now=NOW)).outcome is LinkOutcome.LINKED

    result = await confirm_link(roster, loser, sid, now=NOW)
    assert result.outcome is LinkOutcome.TAKEN
    assert await roster.scalar(select(Student.user_id).where(Student.id == sid)) == winner.id
    assert await count(roster, Student, Student.user_id == loser.id) == 0


async def test_confirm_unknown_student(roster: AsyncSession) -> None:
    user = await make_user(roster, 1)
    result = await confirm_link(roster, user, 10_000, now=NOW)
    assert result.outcome is LinkOutcome.NOT_FOUND
    assert await count(roster, Student, Student.user_id.is_not(None)) == 0


# --- create_invite ----------------------------------------------------------------------


async def test_teacher_invite_creates_teacher_once(session: AsyncSession) -> None:
    invite = await create_invite(session, InviteRole.TEACHER, name="  Иванов   Иван ")
    assert invite.role == "teacher"
    assert len(invite.token) >= 16
    teacher = await session.scalar(select(Teacher).where(Teacher.id == invite.teacher_id))
    assert teacher is not None and teacher.full_name == "Иванов Иван"
    assert teacher.user_id is None

    second = await create_invite(session, InviteRole.TEACHER, name="Иванов Иван")
    assert second.teacher_id == teacher.id
    assert second.token != invite.token
    assert await count(session, Teacher) == 1
    assert await count(session, Invite) == 2


async def test_invites_match_names_as_imports_do(roster: AsyncSession) -> None:
    # Case and ё/е are ignored, as when the schedule is imported.
    first = await create_invite(roster, InviteRole.TEACHER, name="Фёдоров Пётр")
    second = await create_invite(roster, InviteRole.TEACHER, name="федоров ПЕТР")
    assert first.teacher_id == second.teacher_id
    assert await count(roster, Teacher) == 1
    dean = await create_invite(roster, InviteRole.DEAN, name=PEDIATRIC.upper())
    assert dean.faculty_id == await faculty_id(roster, PEDIATRIC)


async def test_teacher_invite_needs_a_name(session: AsyncSession) -> None:
    for name in (None, "", "   \t "):
        with pytest.raises(InviteError) as caught:
            await create_invite(session, InviteRole.TEACHER, name=name)
        assert caught.value.code == "empty_name"
    assert await count(session, Teacher) == 0
    assert await count(session, Invite) == 0


async def test_dean_invite_for_known_faculty(roster: AsyncSession) -> None:
    invite = await create_invite(roster, InviteRole.DEAN, name=f" {PEDIATRIC} ")
    assert invite.role == "dean"
    assert invite.faculty_id == await faculty_id(roster, PEDIATRIC)
    assert invite.teacher_id is None


async def test_dean_invite_for_unknown_faculty_lists_known(roster: AsyncSession) -> None:
    with pytest.raises(InviteError) as caught:
        await create_invite(roster, InviteRole.DEAN, name="Нет такого")
    assert caught.value.code == "unknown_faculty"
    assert str(caught.value) == "unknown_faculty"
    assert caught.value.known == [MEDICAL, PEDIATRIC]
    assert await count(roster, Invite) == 0


async def test_dean_invite_without_faculties(session: AsyncSession) -> None:
    with pytest.raises(InviteError) as caught:
        await create_invite(session, InviteRole.DEAN, name=MEDICAL)
    assert caught.value.code == "unknown_faculty"
    assert caught.value.known == []


async def test_admin_invite(session: AsyncSession) -> None:
    invite = await create_invite(session, InviteRole.ADMIN)
    assert invite.role == "admin"
    assert invite.teacher_id is None and invite.faculty_id is None
    assert await session.scalar(select(Invite.role).where(Invite.token == invite.token)) == "admin"


# --- redeem_invite ----------------------------------------------------------------------


async def test_teacher_invite_works_once(session: AsyncSession) -> None:
    user = await make_user(session, 1)
    other = await make_user(session, 2)
    invite = await create_invite(session, InviteRole.TEACHER, name="Иванов Иван")
    token = invite.token

    result = await redeem_invite(session, user, token, now=NOW)
    assert result.outcome is RedeemOutcome.OK
    assert result.role is InviteRole.TEACHER
    assert result.name == "Иванов Иван"
    await session.commit()
    assert await session.scalar(select(Teacher.user_id)) == user.id
    used = (await session.execute(select(Invite.used_by, Invite.used_at))).one()
    assert used.used_by == user.id and used.used_at == NOW

    for who in (user, other):
        again = await redeem_invite(session, who, token, now=NOW + HOUR)
        assert again.outcome is RedeemOutcome.USED
    assert await session.scalar(select(Teacher.user_id)) == user.id
    assert await session.scalar(select(Invite.used_by)) == user.id


async def test_unknown_token(session: AsyncSession) -> None:
    user = await make_user(session, 1)
    await create_invite(session, InviteRole.ADMIN)
    result = await redeem_invite(session, user, "no-such-token", now=NOW)
    assert result.outcome is RedeemOutcome.UNKNOWN
    assert result.role is None
    assert await count(session, Admin) == 0


async def test_teacher_profile_linked_to_another_account(session: AsyncSession) -> None:
    first = await make_user(session, 1)
    second = await make_user(session, 2)
    one = await create_invite(session, InviteRole.TEACHER, name="Иванов Иван")
    two = await create_invite(session, InviteRole.TEACHER, name="Иванов Иван")
    assert (await redeem_invite(session, first, one.token, now=NOW)).outcome is RedeemOutcome.OK

    result = await redeem_invite(session, second, two.token, now=NOW)
    assert result.outcome is RedeemOutcome.TEACHER_TAKEN
    assert result.role is InviteRole.TEACHER
    assert result.name == "Иванов Иван"
    assert await session.scalar(select(Teacher.user_id)) == first.id
    # The refused invite is not used up.
    assert await session.scalar(select(Invite.used_at).where(Invite.token == two.token)) is None


async def test_teacher_invite_moves_account_to_new_profile(session: AsyncSession) -> None:
    user = await make_user(session, 1)
    old = await create_invite(session, InviteRole.TEACHER, name="Иванов Иван")
    new = await create_invite(session, InviteRole.TEACHER, name="Петров Пётр")
    assert (await redeem_invite(session, user, old.token, now=NOW)).outcome is RedeemOutcome.OK
    assert (await redeem_invite(session, user, new.token, now=NOW)).outcome is RedeemOutcome.OK
    await session.commit()
    rows = await session.execute(select(Teacher.full_name, Teacher.user_id))
    assert {name: uid for name, uid in rows} == {"Иванов Иван": None, "Петров Пётр": user.id}


async def test_dean_invite_adds_dean_member_once(roster: AsyncSession) -> None:
    user = await make_user(roster, 1)
    fid = await faculty_id(roster, MEDICAL)
    tokens = [(await create_invite(roster, InviteRole.DEAN, name=MEDICAL)).token for _ in "ab"]

    result = await redeem_invite(roster, user, tokens[0], now=NOW)
    assert result.outcome is RedeemOutcome.OK
    assert result.role is InviteRole.DEAN
    assert result.name == MEDICAL
    members = (await roster.execute(select(DeanMember.user_id, DeanMember.faculty_id))).all()
    assert [tuple(m) for m in members] == [(user.id, fid)]

    # A second invite to the same faculty is used up but adds no duplicate.
    assert (await redeem_invite(roster, user, tokens[1], now=NOW)).outcome is RedeemOutcome.OK
    assert await count(roster, DeanMember) == 1
    assert await count(roster, Invite, Invite.used_at.is_not(None)) == 2


async def test_admin_invite_adds_admin(session: AsyncSession) -> None:
    user = await make_user(session, 1)
    invite = await create_invite(session, InviteRole.ADMIN)
    result = await redeem_invite(session, user, invite.token, now=NOW)
    assert result.outcome is RedeemOutcome.OK
    assert result.role is InviteRole.ADMIN
    assert result.name == ""
    assert list(await session.scalars(select(Admin.user_id))) == [user.id]
    assert await count(session, Teacher) == 0
    assert await count(session, DeanMember) == 0


# --- bind_deanery_chat ------------------------------------------------------------------


async def chats(session: AsyncSession) -> dict[int, int]:
    """chat_id → faculty_id, straight from the database."""
    rows = await session.execute(select(DeaneryChat.chat_id, DeaneryChat.faculty_id))
    return {chat_id: fid for chat_id, fid in rows}


async def test_bind_refused_outside_own_faculties(roster: AsyncSession) -> None:
    medical = await faculty_id(roster, MEDICAL)
    pediatric = await faculty_id(roster, PEDIATRIC)
    result = await bind_deanery_chat(
        roster, frozenset({medical}), pediatric, chat_id=-100, title="Чат", bound_by=1, now=NOW
    )
    assert result is None
    assert (
        await bind_deanery_chat(
            roster, frozenset(), medical, chat_id=-100, title="Чат", bound_by=1, now=NOW
        )
        is None
    )
    assert await chats(roster) == {}


async def test_bind_replaces_and_moves_chats(roster: AsyncSession) -> None:
    medical = await faculty_id(roster, MEDICAL)
    pediatric = await faculty_id(roster, PEDIATRIC)
    both = frozenset({medical, pediatric})

    faculty = await bind_deanery_chat(
        roster, both, medical, chat_id=-100, title="Старый", bound_by=7, now=NOW
    )
    assert faculty is not None and faculty.name == MEDICAL
    assert await chats(roster) == {-100: medical}

    # A second chat for the same faculty replaces the first.
    later = NOW + HOUR
    assert (
        await bind_deanery_chat(
            roster, both, medical, chat_id=-200, title="Новый", bound_by=8, now=later
        )
        is not None
    )
    assert await chats(roster) == {-200: medical}
    row = (
        await roster.execute(select(DeaneryChat.title, DeaneryChat.bound_by, DeaneryChat.bound_at))
    ).one()
    assert tuple(row) == ("Новый", 8, later)

    # Binding the same chat to another faculty moves it.
    assert (
        await bind_deanery_chat(
            roster, both, pediatric, chat_id=-200, title="Новый", bound_by=8, now=later
        )
        is not None
    )
    assert await chats(roster) == {-200: pediatric}

    # Re-binding the same chat to the same faculty keeps one row.
    assert (
        await bind_deanery_chat(
            roster, both, pediatric, chat_id=-200, title="Ещё", bound_by=8, now=later
        )
        is not None
    )
    await roster.commit()
    assert await chats(roster) == {-200: pediatric}
    assert await roster.scalar(select(DeaneryChat.title)) == "Ещё"
