"""Callback data: an action outside its enum can be neither packed nor parsed."""

from __future__ import annotations

from enum import StrEnum

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, User
from pydantic import ValidationError

from bot.keyboards.callbacks import (
    AnnounceActCB,
    AnnounceAction,
    DecideAction,
    DecideCB,
    ExamAction,
    ExamCB,
    MyDataAction,
    MyDataCB,
    RollAction,
    RollCB,
    StmtActCB,
    StmtAction,
)

# (class, its action enum, the other fields a valid instance needs)
ACTIONS: tuple[tuple[type[CallbackData], type[StrEnum], dict[str, object]], ...] = (
    (ExamCB, ExamAction, {"exam_id": 7}),
    (StmtActCB, StmtAction, {}),
    (DecideCB, DecideAction, {"statement_id": 7}),
    (RollCB, RollAction, {"exam_id": 7, "student_id": 3, "page": 1, "value": "x"}),
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
