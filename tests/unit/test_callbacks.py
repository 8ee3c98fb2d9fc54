"""Callback data: an action outside its enum can be neither packed nor parsed."""

from __future__ import annotations

import typing
from enum import StrEnum

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, User
from pydantic import ValidationError

from bot.config import SUPPORTED_LOCALES
from bot.db.models import MAX_ID
from bot.domain.roll import Grade, MarkAction, TicketMethod
from bot.keyboards.callbacks import (
    ROLL_BUTTONS,
    AnnounceActCB,
    AnnounceAction,
    AnnounceCB,
    DecideAction,
    DecideCB,
    ExamAction,
    ExamCB,
    LangCB,
    MyDataAction,
    MyDataCB,
    ReportCB,
    RollAction,
    RollCB,
    RollGradeCB,
    RollMarkCB,
    RollPartsCB,
    RollSplitCB,
    RollTicketsCB,
    RollWrittenCB,
    StmtActCB,
    StmtAction,
    StmtViolationCB,
)

# (class, its action enum, the other fields a valid instance needs)
ACTIONS: tuple[tuple[type[CallbackData], type[StrEnum], dict[str, object]], ...] = (
    (ExamCB, ExamAction, {"exam_id": 7}),
    (StmtActCB, StmtAction, {}),
    (DecideCB, DecideAction, {"statement_id": 7}),
    (RollCB, RollAction, {"exam_id": 7, "student_id": 3, "page": 1}),
    (AnnounceActCB, AnnounceAction, {}),
    (MyDataCB, MyDataAction, {}),
)


@pytest.mark.parametrize(("cls", "actions", "fields"), ACTIONS)
def test_every_action_round_trips(
    cls: type[CallbackData], actions: type[StrEnum], fields: dict[str, object]
) -> None:
    for action in actions:
        packed = cls(action=action, **fields).pack()
        assert len(packed.encode()) <= 64, packed  # Telegram's limit for callback data
        parsed = cls.unpack(packed)
        assert parsed.action is action  # type: ignore[attr-defined]
        assert parsed == cls(action=action, **fields)


@pytest.mark.parametrize(("cls", "actions", "fields"), ACTIONS)
def test_an_unknown_action_cannot_be_packed(
    cls: type[CallbackData], actions: type[StrEnum], fields: dict[str, object]
) -> None:
    assert "junk" not in {a.value for a in actions}
    with pytest.raises(ValidationError):
        cls(action="junk", **fields)


@pytest.mark.parametrize(("cls", "actions", "fields"), ACTIONS)
async def test_an_unknown_action_cannot_be_parsed(
    cls: type[CallbackData], actions: type[StrEnum], fields: dict[str, object]
) -> None:
    """A forged string, or a button of an older version whose action is gone."""
    valid = cls(action=next(iter(actions)), **fields).pack()
    prefix, _action, *rest = valid.split(":")
    forged = ":".join([prefix, "junk", *rest])
    with pytest.raises((ValueError, TypeError)):
        cls.unpack(forged)
    # ...so the class's filter does not match: no handler of it sees the press (it falls
    # through to the "no longer valid" fallback), while the valid data does match.
    assert await cls.filter()(_query(forged)) is False
    assert await cls.filter()(_query(valid))


def _query(data: str) -> CallbackQuery:
    user = User(id=1, is_bot=False, first_name="A")
    return CallbackQuery(id="1", from_user=user, chat_instance="1", data=data)


# The longest value of every typed field of the console's buttons, every id at its largest.
LONGEST: dict[type[CallbackData], dict[str, object]] = {
    RollCB: {"action": max(RollAction, key=len), "student_id": MAX_ID},
    RollMarkCB: {"student_id": MAX_ID, "mark": max(MarkAction, key=len), "card": True},
    RollGradeCB: {"student_id": MAX_ID, "grade": max(Grade, key=len)},
    RollTicketsCB: {"method": max(TicketMethod, key=len), "count": 1_000},
    RollPartsCB: {"parts": 1_000},
    RollSplitCB: {"parts": 1_000, "minutes": 1_000},
    RollWrittenCB: {"minutes": 1_000},
}


def test_every_console_button_fits_telegrams_64_bytes() -> None:
    assert set(LONGEST) == set(ROLL_BUTTONS)
    for cls, fields in LONGEST.items():
        data = cls(exam_id=MAX_ID, page=10_000, **fields)
        packed = data.pack()
        assert len(packed.encode()) <= 64, packed
        assert cls.unpack(packed) == data


# A value of a typed field that no button carries: refused when packed and when parsed.
BAD_VALUES: tuple[tuple[type[CallbackData], dict[str, object]], ...] = (
    (RollMarkCB, {"student_id": 1, "mark": "bogus"}),
    (RollMarkCB, {"student_id": 1, "mark": "unmarked"}),  # a mark, but never set by hand
    (RollGradeCB, {"student_id": 1, "grade": "10"}),
    (RollTicketsCB, {"method": "dice", "count": 10}),
    (RollTicketsCB, {"method": "random", "count": 10**9}),  # past any sane count
    (RollPartsCB, {"parts": -1}),
    (RollSplitCB, {"parts": 2, "minutes": 10**9}),  # would break timedelta() unchecked
    (RollWrittenCB, {"minutes": "sixty"}),
    (RollCB, {"action": "show", "page": -1}),
)


@pytest.mark.parametrize(("cls", "fields"), BAD_VALUES)
async def test_a_bad_typed_value_can_be_neither_packed_nor_parsed(
    cls: type[CallbackData], fields: dict[str, object]
) -> None:
    values = {"exam_id": 7, "page": 0, **fields}
    with pytest.raises(ValidationError):
        cls(**values)
    # Forged by hand, in the fields' order: the class's filter does not match it.
    forged = ":".join(
        [cls.__prefix__, *(_packed(values.get(name, 0)) for name in cls.model_fields)]
    )
    with pytest.raises((ValueError, TypeError)):
        cls.unpack(forged)
    assert await cls.filter()(_query(forged)) is False


def _packed(value: object) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


def test_the_language_button_offers_the_supported_locales_only() -> None:
    assert set(typing.get_args(LangCB.model_fields["code"].annotation)) == set(SUPPORTED_LOCALES)
    with pytest.raises(ValidationError):
        LangCB(code="xx")


@pytest.mark.parametrize(
    ("cls", "forged"),
    [
        (ReportCB, "rep:junk"),
        (AnnounceCB, "ann:junk:7"),
        (LangCB, "lang:xx"),
        (StmtViolationCB, "st-viol:junk"),
    ],
)
async def test_a_forged_choice_is_not_parsed(cls: type[CallbackData], forged: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        cls.unpack(forged)
    assert await cls.filter()(_query(forged)) is False
