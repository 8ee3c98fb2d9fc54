"""FSM states of the dialogues (stored by name, so renaming one strands users mid-way)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Join(StatesGroup):
    record_book = State()
    surname = State()
    confirm = State()


class TzInput(StatesGroup):
    zone = State()


class TeacherLink(StatesGroup):
    url = State()


class StatementForm(StatesGroup):
    exam = State()
    kind = State()
    zone = State()
    window = State()
    reason = State()
    violation = State()  # an appeal: what part of the procedure was violated
    text = State()
    files = State()
    preview = State()
    more_files = State()  # documents added to a submitted absence statement


class DeanComment(StatesGroup):
    text = State()


class DeanReschedule(StatesGroup):
    when = State()


class TeacherTickets(StatesGroup):
    ticket_list = State()  # the teacher sends "who — ticket" lines


class Announce(StatesGroup):
    text = State()
    preview = State()
