"""Tests of the fake Telegram Bot API server itself, driven by a real aiogram Bot.

If these fail, every e2e test built on ``FakeBotAPI`` is suspect, so they pin down
the parts of Telegram's behaviour that the fake promises to reproduce.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
)

from tests.e2e import fakeapi as fakeapi_module
from tests.e2e.fakeapi import FakeBotAPI, Pace

pytestmark = pytest.mark.asyncio

TOKEN = "123456:TEST-token"


def make_bot(api: FakeBotAPI, token: str = TOKEN, timeout: float = 60) -> Bot:
    server = TelegramAPIServer.from_base(api.base_url)
    return Bot(token, session=AiohttpSession(api=server, timeout=timeout))


@pytest_asyncio.fixture
async def api() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(token=TOKEN, bot_username="examinator_test_bot") as server:
        yield server


@pytest_asyncio.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(api) as client:
        yield client


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Да", callback_data="yes")],
            [InlineKeyboardButton(text="Нет", callback_data="no")],
        ]
    )


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456, "examinator_test_bot", True)


async def test_wrong_token_is_unauthorized(api: FakeBotAPI) -> None:
    async with make_bot(api, "999:wrong") as wrong:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()


async def test_send_message_keyboard_round_trip(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "Сдать экзамен?", reply_markup=keyboard())
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[1][0].callback_data == "no"

    message = await api.next_message(42)
    assert message["_method"] == "sendMessage"
    assert message["text"] == "Сдать экзамен?"
    assert [b["callback_data"] for b in api.buttons(message)] == ["yes", "no"]
    assert api.button(message, "Не")["callback_data"] == "no"
    with pytest.raises(AssertionError):
        api.button(message, "Может быть")
    assert api.messages(42)[0]["message_id"] == sent.message_id
    call = await api.wait_for("sendMessage", chat_id=42)
    assert call.params["chat_id"] == 42  # JSON-decoded int, not the string "42"


async def test_numeric_looking_text_stays_a_string(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(42, "123")
    assert (await api.next_message(42))["text"] == "123"


async def test_edits_follow_telegram_rules(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "v1", reply_markup=keyboard())
    await bot.edit_message_text(text="v2", chat_id=42, message_id=sent.message_id)
    assert (await api.next_message(42))["text"] == "v1"
    edited = await api.next_message(42)  # continues after the previous one
    assert edited["_method"] == "editMessageText"
    assert edited["text"] == "v2"
    assert api.buttons(edited) == []  # an edit without reply_markup drops the keyboard
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="v2", chat_id=42, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(42, "a <b>bold", parse_mode="HTML")
    await bot.send_message(42, "<b>1 &lt; 2</b>", parse_mode="HTML")
    assert api.messages(42)[-1]["text"] == "1 < 2"


async def test_send_document_upload_is_stored(api: FakeBotAPI, bot: Bot) -> None:
    payload = b"PK\x03\x04 fake xlsx \x00\xff"
    await bot.send_document(
        7, BufferedInputFile(payload, filename="results.xlsx"), caption="Ведомость"
    )
    call = await api.wait_for("sendDocument", chat_id=7)
    assert call.files["document"] == ("results.xlsx", payload)
    assert call.params["caption"] == "Ведомость"
    message = await api.next_message(7)
    assert message["document"]["file_name"] == "results.xlsx"
    assert message["caption"] == "Ведомость"
    # The bot can fetch its own upload back, like a real file_id.
    downloaded = await bot.download(message["document"]["file_id"])
    assert downloaded is not None and downloaded.read() == payload


async def test_user_document_downloads_identically(api: FakeBotAPI, bot: Bot) -> None:
    content = bytes(range(256)) * 1000
    student = api.user(1001, "Иван")
    update = api.send_document(student, "answer.pdf", content=content, caption="Моя работа")
    document = update["message"]["document"]
    assert document["file_size"] == len(content)
    assert document["mime_type"] == "application/pdf"
    downloaded = await bot.download(document["file_id"])
    assert downloaded is not None and downloaded.read() == content

    huge = api.send_document(student, "huge.zip", content=b"x", file_size=30 * 1024 * 1024)
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(huge["message"]["document"]["file_id"])


async def test_long_poll_wakes_up_on_enqueue(api: FakeBotAPI, bot: Bot) -> None:
    student = api.user(1001)
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    assert not poll.done()
    enqueued_at = time.monotonic()
    update = student.send("/start")
    updates = await poll
    assert time.monotonic() - enqueued_at < 0.1
    assert [u.update_id for u in updates] == [update["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    assert updates[0].message.entities is not None
    assert updates[0].message.entities[0].type == "bot_command"


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == []
    assert 0.9 <= time.monotonic() - started < 2


async def test_offset_confirms_and_redeliver_returns_same_update(api: FakeBotAPI, bot: Bot) -> None:
    update = api.user(5).send("привет")
    first = await bot.get_updates(timeout=1)
    assert [u.update_id for u in first] == [update["update_id"]]
    offset = update["update_id"] + 1
    assert await bot.get_updates(offset=offset, timeout=0) == []

    api.redeliver(update)
    again = await bot.get_updates(offset=offset, timeout=1)
    assert [u.update_id for u in again] == [update["update_id"]]
    assert await bot.get_updates(offset=offset, timeout=0) == []


async def test_fail_next_429_raises_retry_after(api: FakeBotAPI, bot: Bot) -> None:
    api.fail_next("sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(42, "flood")
    assert excinfo.value.retry_after == 3
    await bot.send_message(42, "after the flood")  # only the next call was failed
    failed = await api.wait_for("sendMessage")
    assert failed.error is not None and failed.error["error_code"] == 429


async def test_block_raises_forbidden_until_unblocked(api: FakeBotAPI, bot: Bot) -> None:
    api.block(42)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(42, "hello?")
    await bot.send_message(43, "other chats are fine")
    api.unblock(42)
    await bot.send_message(42, "hello again")
    assert [m["text"] for m in api.messages(42)] == ["hello again"]


async def test_dispatcher_conversation_with_click(api: FakeBotAPI) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Готовы?", reply_markup=keyboard())

    @dp.callback_query(F.data == "yes")
    async def yes(query: CallbackQuery) -> None:
        await query.answer("Удачи!", show_alert=True)
        assert isinstance(query.message, Message)
        await query.message.edit_text("Начали")

    bot = make_bot(api)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    try:
        student = api.user(77, "Анна")
        student.send("/start")
        question = await api.next_message(77)
        click = student.click(question, api.button(question, "Да")["callback_data"])
        answer = await api.callback_answer(click)
        assert answer.params["text"] == "Удачи!" and answer.params["show_alert"] is True
        edited = await api.next_message(77)
        assert (edited["_method"], edited["text"]) == ("editMessageText", "Начали")
        await api.idle(quiet=0.2)
        assert [m["text"] for m in api.messages(77)] == ["Начали"]
    finally:
        await dp.stop_polling()
        await polling  # start_polling closes the bot session on the way out


async def test_send_media_group_copy_and_forward(api: FakeBotAPI, bot: Bot) -> None:
    album = await bot.send_media_group(
        9,
        [
            InputMediaPhoto(media=BufferedInputFile(b"jpeg", "a.jpg"), caption="<b>1</b>"),
            InputMediaDocument(media=BufferedInputFile(b"pdf", "b.pdf"), parse_mode="HTML"),
        ],
    )
    assert len({m.media_group_id for m in album}) == 1 and album[0].caption == "<b>1</b>"
    assert album[1].document is not None and album[1].document.file_name == "b.pdf"
    student = api.user(1001)
    update = student.send("моя работа")
    copied = await bot.copy_message(
        9, from_chat_id=1001, message_id=update["message"]["message_id"]
    )
    forwarded = await bot.forward_message(10, from_chat_id=9, message_id=copied.message_id)
    assert forwarded.text == "моя работа" and forwarded.forward_origin is not None
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(9, from_chat_id=1001, message_id=999)
    assert [m["text"] for m in api.messages(9)[2:]] == ["моя работа"]
    assert [c.method for c in api.delivered(9)] == ["sendMediaGroup", "copyMessage"]
    assert [c.method for c in api.delivered()][-1] == "forwardMessage"
    assert api.sent_count == 3


async def test_enforced_per_chat_limit_answers_429(api: FakeBotAPI, bot: Bot) -> None:
    api.enforce_limits(global_per_second=30, per_chat_per_second=1, retry_after=2)
    first = await bot.send_message(42, "one")
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(42, "two")
    assert excinfo.value.retry_after == 2
    assert api.throttled == 1
    assert [m["text"] for m in api.messages(42)] == ["one"]  # the throttled one is not stored
    await bot.edit_message_text("one!", chat_id=42, message_id=first.message_id)  # not limited
    await bot.send_message(43, "other chats have their own window")
    assert (api.sent_count, [c.params["text"] for c in api.delivered(42)]) == (2, ["one"])

    await asyncio.sleep(1.1)
    await bot.send_message(42, "three")
    assert [m["text"] for m in api.messages(42)] == ["one!", "three"]
    assert api.throttled == 1

    api.stop_enforcing()
    await bot.send_message(42, "four")
    await bot.send_message(42, "five")
    assert api.sent_count == 5


async def test_enforced_global_limit_lets_30_of_40_through(
    api: FakeBotAPI, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.enforce_limits(global_per_second=30, per_chat_per_second=1)
    # The fake's clock stands still while the 40 arrive: all within one second whatever the
    # machine's load (a wall-clock bound here failed on a busy machine, not in the fake).
    frozen = time.monotonic()
    still = SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if name[0] != "_"})
    still.monotonic = lambda: frozen
    monkeypatch.setattr(fakeapi_module, "time", still)
    results = await asyncio.gather(
        *(bot.send_message(1000 + i, "broadcast") for i in range(40)), return_exceptions=True
    )
    monkeypatch.undo()
    assert sum(isinstance(r, Message) for r in results) == 30
    assert sum(isinstance(r, TelegramRetryAfter) for r in results) == 10
    assert (api.sent_count, len(api.delivered()), api.throttled) == (30, 30, 10)
    failed = [c for c in api.calls if not c.ok]
    assert all(c.error and c.error["parameters"] == {"retry_after": 1} for c in failed)


async def test_enforced_group_limit_counts_per_group_chat_in_its_window(
    api: FakeBotAPI, bot: Bot
) -> None:
    api.enforce_limits(30, 100, per_group=3, group_window=0.5)
    for text in ("one", "two", "three"):
        await bot.send_message(-100500, text)
    with pytest.raises(TelegramRetryAfter) as excinfo:
        await bot.send_message(-100500, "four")
    assert excinfo.value.retry_after == 1  # whole seconds, rounded up
    await bot.send_message(-100600, "another group has its own window")
    for text in ("a", "b", "c", "d"):  # a private chat is not a group
        await bot.send_message(42, text)
    await asyncio.sleep(0.55)
    await bot.send_message(-100500, "four")
    assert [c.params["text"] for c in api.delivered(-100500)] == ["one", "two", "three", "four"]
    assert api.throttled == 1


async def test_outage_500_until_over(api: FakeBotAPI, bot: Bot) -> None:
    api.outage("500", 0.3)
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(42, "down")
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert await bot.get_updates(timeout=0) == []  # getUpdates is not affected
    await asyncio.sleep(0.35)
    await bot.send_message(42, "up again")

    api.outage("500", 30)
    with pytest.raises(TelegramServerError):
        await bot.send_message(42, "down")
    api.outage_over()
    await bot.send_message(42, "ended early")
    assert [m["text"] for m in api.messages(42)] == ["up again", "ended early"]
    assert (api.sent_count, len([c for c in api.calls if not c.ok])) == (2, 3)


async def test_outage_timeout_hangs_requests(api: FakeBotAPI) -> None:
    api.outage("timeout", 30)
    async with make_bot(api, timeout=0.2) as impatient:
        started = time.monotonic()
        with pytest.raises(TelegramNetworkError, match="timeout"):
            await impatient.send_message(42, "hello?")
        assert time.monotonic() - started < 1
        hung = await api.wait_for("sendMessage")  # recorded when the client hung up
        assert hung.error is not None and hung.error["error_code"] == 500
        api.outage_over()
        await impatient.send_message(42, "back")

    # A patient client gets the 500 once the outage ends (timed from the outage's start:
    # making the client may take a while on a busy machine).
    started = time.monotonic()
    api.outage("timeout", 0.3)
    async with make_bot(api) as patient:
        with pytest.raises(TelegramServerError):
            await patient.send_message(42, "hello?")
        assert 0.25 < time.monotonic() - started < 1
    assert [m["text"] for m in api.messages(42)] == ["back"]


async def test_outage_refuse_drops_connections(api: FakeBotAPI, bot: Bot) -> None:
    api.outage("refuse", 30)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(42, "anyone?")
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()
    assert await bot.get_updates(timeout=0) == []
    api.outage_over()
    await bot.send_message(42, "reconnected")
    assert [m["text"] for m in api.messages(42)] == ["reconnected"]
    assert [(c.method, c.ok) for c in api.calls] == [
        ("sendMessage", False),  # recorded, though no answer was sent
        ("getMe", False),
        ("getUpdates", True),
        ("sendMessage", True),
    ]
    assert api.sent_count == 1
    with pytest.raises(ValueError, match="outage mode"):
        api.outage("503", 1)


async def test_outage_429_throttles_every_method_until_over(api: FakeBotAPI, bot: Bot) -> None:
    api.outage("429", 30, retry_after=7)
    for call in (bot.send_message(42, "flood"), bot.get_me(), bot.answer_callback_query("q")):
        with pytest.raises(TelegramRetryAfter) as caught:
            await call
        assert caught.value.retry_after == 7
    assert await bot.get_updates(timeout=0) == []  # getUpdates is not affected
    assert api.throttled == 3
    api.outage_over()
    await bot.send_message(42, "calm again")
    assert [m["text"] for m in api.messages(42)] == ["calm again"]
    with pytest.raises(ValueError, match="retry_after"):
        api.outage("429", 1, retry_after=0)


@pytest.mark.parametrize("mode", ["500", "429"])
async def test_outage_with_updates_fails_get_updates_and_keeps_them(
    api: FakeBotAPI, bot: Bot, mode: str
) -> None:
    user = api.user(7, language_code="en")
    api.outage(mode, 30, updates=True)
    sent = user.send("during the outage")
    with pytest.raises(TelegramServerError if mode == "500" else TelegramRetryAfter):
        await bot.get_updates(timeout=0)
    assert api.pending_updates == 1  # not handed out: it waits for the outage's end
    api.outage_over()
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [sent["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "during the outage"


async def test_outage_timeout_with_updates_hangs_long_polls(api: FakeBotAPI, bot: Bot) -> None:
    api.outage("timeout", 0.3, updates=True)
    started = time.monotonic()
    with pytest.raises(TelegramServerError):
        await bot.get_updates(timeout=0)  # hangs until the outage ends, then 500
    assert 0.25 < time.monotonic() - started < 1
    assert await bot.get_updates(timeout=0) == []


async def test_latency_delays_every_call_within_its_jitter() -> None:
    spent = []
    async with FakeBotAPI(token=TOKEN, latency=0.1, jitter=0.5, seed=1) as api:
        client = make_bot(api)
        try:
            for _ in range(5):
                started = time.monotonic()
                await client.get_me()
                spent.append(time.monotonic() - started)
        finally:
            await client.session.close()
    # 100 ms jittered by half either way: never under 50 ms; each call pays its own.
    assert min(spent) >= 0.05
    assert max(spent) < 1.0


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        ("<b>1 &lt; 2 &amp;&amp; 3 &gt; 2</b> &quot;ok&quot;", '1 < 2 && 3 > 2 "ok"'),
        ("&#1040;&#x42;&#X43; a > b", "АBC a > b"),  # numeric entities; a bare ">" is text
        ('<a href="https://moodle.example/?a=1&amp;b=2">Moodle</a>', "Moodle"),
        ("<A HREF='tg://user?id=1'>he</A>", "he"),  # tags and attributes in any case
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1"),
        ("<blockquote expandable>q</blockquote><blockquote>r</blockquote>", "qr"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ('<b data-x="ignored">b</b><i>i</>', "bi"),  # unknown attributes, "</>" closes
        ("<strong>1</strong><em>2</em><ins>3</ins><strike>4</strike><del>5</del>", "12345"),
    ],
)
async def test_html_as_telegram_parses_it(
    api: FakeBotAPI, bot: Bot, html: str, visible: str
) -> None:
    await bot.send_message(42, html, parse_mode="HTML")
    assert api.messages(42)[-1]["text"] == visible


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("Акушерство & гинекология", 'Character "&" is reserved'),
        ("Tom &amp Jerry", 'Character "&" is reserved'),  # an entity needs its ";"
        ("&nbsp;", 'Character "&" is reserved'),  # only lt, gt, amp, quot are named
        ('<a href="https://x/?a=1&b=2">x</a>', 'Character "&" is reserved'),
        ("Белов Артём <мл.>", 'Unsupported start tag "мл."'),
        ("1 < 2", 'Unsupported start tag ""'),
        ("<p>para</p>", 'Unsupported start tag "p"'),
        ("<br/>", 'Unsupported start tag "br/"'),
        ("a <b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x>y</a>', 'Unclosed start tag "a"'),
        ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<tg-emoji>👍</tg-emoji>", "Invalid custom emoji identifier"),
    ],
)
async def test_html_refused_as_telegram_refuses_it(
    api: FakeBotAPI, bot: Bot, html: str, reason: str
) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities") as caught:
        await bot.send_message(42, html, parse_mode="HTML")
    assert reason in caught.value.message
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_document(
            42, BufferedInputFile(b"x", "a.txt"), caption=html, parse_mode="HTML"
        )
    assert api.messages(42) == []
    await bot.send_message(42, html)  # without parse_mode it is plain text
    assert api.messages(42)[-1]["text"] == html


async def test_lengths_count_visible_text(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(42, "<b>" + "&amp;" * 4096 + "</b>", parse_mode="HTML")
    assert api.messages(42)[-1]["text"] == "&" * 4096
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_document(42, BufferedInputFile(b"x", "a.txt"), caption="x" * 1025)
    await bot.send_document(
        42, BufferedInputFile(b"x", "a.txt"), caption=f"<i>{'x' * 1024}</i>", parse_mode="HTML"
    )


def grid(rows: int, columns: int, data: str = "d") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=f"{r}.{c}", callback_data=data) for c in range(columns)]
            for r in range(rows)
        ]
    )


async def test_inline_keyboard_limits(api: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(42, "100 buttons, 8 a row", reply_markup=grid(12, 8))  # 96
    await bot.send_message(42, "exactly 100", reply_markup=grid(100, 1, "x" * 64))
    with pytest.raises(TelegramBadRequest, match="reply markup is too long"):
        await bot.send_message(42, "101", reply_markup=grid(101, 1))
    with pytest.raises(TelegramBadRequest, match="reply markup is too long"):
        await bot.send_message(42, "9 in a row", reply_markup=grid(1, 9))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(42, "65 bytes", reply_markup=grid(1, 1, "я" * 32 + "x"))
    with pytest.raises(TelegramBadRequest, match="BUTTON_URL_INVALID"):
        await bot.send_message(
            42,
            "url",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="Moodle", url="moodle/course")]]
            ),
        )
    sent = await bot.send_message(42, "edit keeps to them too")
    with pytest.raises(TelegramBadRequest, match="reply markup is too long"):
        await bot.edit_message_reply_markup(
            chat_id=42, message_id=sent.message_id, reply_markup=grid(11, 10)
        )
    assert [m["text"] for m in api.messages(42)] == [
        "100 buttons, 8 a row",
        "exactly 100",
        "edit keeps to them too",
    ]


async def test_privacy_mode_delivers_only_what_telegram_delivers(api: FakeBotAPI, bot: Bot) -> None:
    assert (await bot.get_me()).can_read_all_group_messages is False
    group: dict[str, Any] = {"id": -100777, "type": "supergroup", "title": "Деканат"}
    dean = api.user(501, "Декан")
    prompt = await bot.send_message(-100777, "Причина?")
    stored = api.messages(-100777)[-1]
    delivered = [
        dean.send("/inbox", chat=group),
        dean.send("/inbox@Examinator_Test_Bot extra", chat=group),
        dean.reply(stored, "Нет печати"),
        dean.send("@examinator_test_bot, помогите", chat=group),
        dean.send("в личку", chat=None),  # private chats: everything
    ]
    withheld = [
        dean.send("Нет печати", chat=group),
        dean.send("/inbox@other_bot", chat=group),
        dean.send("mail@examinator_test_bot.ru", chat=group),
        dean.send("@examinator_test_botik", chat=group),
        dean.send("reply to a person", chat=group, reply_to=delivered[0]["message"]),
    ]
    api.enqueue_raw(  # a service message passes
        {"message": {**withheld[0]["message"], "text": None, "new_chat_title": "Деканат 2"}}
    )
    updates = await bot.get_updates(timeout=0)
    texts = [u.message.text if u.message else None for u in updates]
    assert texts == [
        "/inbox",
        "/inbox@Examinator_Test_Bot extra",
        "Нет печати",
        "@examinator_test_bot, помогите",
        "в личку",
        None,
    ]
    reply = updates[2].message
    assert reply is not None and reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == prompt.message_id
    assert reply.reply_to_message.from_user is not None
    assert reply.reply_to_message.from_user.is_bot
    assert api.withheld == withheld and all("update_id" not in u for u in withheld)


async def test_privacy_mode_off_delivers_every_group_message() -> None:
    async with FakeBotAPI(token=TOKEN, privacy_mode=False) as open_api:
        open_bot = make_bot(open_api)
        try:
            assert (await open_bot.get_me()).can_read_all_group_messages is True
            open_api.user(501).send("Нет печати", chat={"id": -5, "type": "group", "title": "g"})
            assert len(await open_bot.get_updates(timeout=0)) == 1
            assert open_api.withheld == []
        finally:
            await open_bot.session.close()


async def test_callback_answered_once_within_15_seconds(api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(42, "?", reply_markup=keyboard())
    message = api.messages(42)[-1]
    student = api.user(42)
    first = student.click(message, "yes")["callback_query"]["id"]
    assert await bot.answer_callback_query(first, text="ok")
    too_old = "query is too old and response timeout expired or query ID is invalid"
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query(first)  # a second answer
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query("never-pressed")
    api.callback_timeout = 0.2
    late = student.click(message, "no")["callback_query"]["id"]
    await asyncio.sleep(0.3)
    with pytest.raises(TelegramBadRequest, match=too_old):
        await bot.answer_callback_query(late)
    assert sent.message_id == message["message_id"]


async def test_pace_per_chat_allows_a_burst_then_one_a_second(api: FakeBotAPI, bot: Bot) -> None:
    api.pace = Pace(chat_per_second=1, chat_burst=3)
    first = await bot.send_message(42, "1")
    await bot.send_message(42, "2")
    await bot.edit_message_text("1!", chat_id=42, message_id=first.message_id)  # edits count
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(42, "4")
    assert caught.value.retry_after == 1
    with pytest.raises(TelegramRetryAfter):
        await bot.edit_message_text("1?", chat_id=42, message_id=first.message_id)
    await bot.send_message(43, "another chat has its own allowance")
    await asyncio.sleep(1.05)
    await bot.send_message(42, "4")
    assert [m["text"] for m in api.messages(42)] == ["1!", "2", "4"]
    assert api.throttled == 2


async def test_pace_group_20_a_minute_and_30_a_second_in_all(api: FakeBotAPI, bot: Bot) -> None:
    group = -100500
    results = await asyncio.gather(
        *(bot.send_message(group, str(i)) for i in range(21)), return_exceptions=True
    )
    # The chat's own burst (10) runs out first (one more if a second passed meanwhile).
    assert sum(isinstance(r, Message) for r in results) in (10, 11)
    api.pace = Pace(chat_burst=100)
    api._buckets.clear()
    results = await asyncio.gather(
        *(bot.send_message(group, str(i)) for i in range(21)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, TelegramRetryAfter)]
    assert (len(results) - len(refused), len(refused)) == (20, 1)
    assert refused[0].retry_after == 3
    api._buckets.clear()
    results = await asyncio.gather(
        *(bot.send_message(1000 + i, "broadcast") for i in range(45)), return_exceptions=True
    )
    # 30 at once, and the refill of the time the 45 calls take (30 a second).
    assert 30 <= sum(isinstance(r, Message) for r in results) < 40
    api.pace = None
    await asyncio.gather(*(bot.send_message(group, "off") for _ in range(30)))
