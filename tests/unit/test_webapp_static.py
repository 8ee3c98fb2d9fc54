"""The Mini App's front end, read as text: server data never becomes markup, nothing is
loaded from outside but Telegram's own script, and every interface string the scripts ask
for is one the server hands out (bot.webapp.texts), so none shows as a bare key."""

from __future__ import annotations

import re
from pathlib import Path

from bot.app import create_i18n
from bot.config import Settings
from bot.webapp.texts import ui_texts

STATIC = Path(__file__).resolve().parents[2] / "bot" / "webapp" / "static"
SCRIPTS = sorted((STATIC / "js").glob("*.js"))
TELEGRAM_JS = "https://telegram.org/js/telegram-web-app.js"


def test_the_scripts_build_no_markup_from_strings() -> None:
    assert len(SCRIPTS) >= 5
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{script.name} uses {sink}"


def test_nothing_is_loaded_from_outside_but_telegrams_script() -> None:
    for path in [STATIC / "index.html", STATIC / "app.css", *SCRIPTS]:
        text = path.read_text(encoding="utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {TELEGRAM_JS}, f"{path.name}: {urls - {TELEGRAM_JS}}"
    assert TELEGRAM_JS in (STATIC / "index.html").read_text(encoding="utf-8")


# Keys the scripts build: t("report_" + name) over their fixed lists, t(action), tabs.
BUILT = {
    "report_additional", "report_statements", "report_attendance",
    "exams_upcoming", "exams_past",
    "import_roster", "import_schedule", "import_plan",
    "approve", "reject", "more",
}  # fmt: skip


def test_every_string_the_scripts_ask_for_is_handed_out() -> None:
    i18n = create_i18n(Settings(bot_token="123456:TEST-token", _env_file=None))
    with i18n.context(), i18n.use_locale("ru"):
        texts = ui_texts()
    asked = set(BUILT)
    for script in SCRIPTS:
        text = script.read_text(encoding="utf-8")
        asked |= set(re.findall(r"\bt\(\"([a-z_]+)\"(?! \+)", text))
        asked |= set(re.findall(r"\"(tab_[a-z]+)\"", text))
        for prefix in re.findall(r"\bt\(\"([a-z_]+_)\" \+", text):
            assert any(key.startswith(prefix) for key in BUILT), f"{prefix}… is not in BUILT"
    assert len(asked) > 40
    assert asked <= set(texts), f"not in bot/webapp/texts.py: {sorted(asked - set(texts))}"
    # Handed out in Russian (the default), not as the English source.
    assert texts["tab_inbox"] != "Statements" and texts["roll"] != "Roll"
