"""Every user-facing string has a Russian and an English translation with the same fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "__": None, "ngettext": (1, 2)}
FIELD = re.compile(r"\{(\w*)[^{}]*\}")


def source_strings() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(lang: str) -> Catalog:
    with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale=lang)


def test_strings_are_found() -> None:
    assert len(source_strings()) > 50


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_string_is_translated(lang: str) -> None:
    messages = catalog(lang)
    missing = [
        s
        for s in sorted(source_strings())
        if not (m := messages.get(s)) or not all(_forms(m.string))
    ]
    assert not missing, f"untranslated in {lang} (run scripts/i18n, then translate): {missing}"
    fuzzy = [m.id for m in messages if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy in {lang}: {fuzzy}"


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_translations_keep_the_fields(lang: str) -> None:
    for message in catalog(lang):
        if not message.id:
            continue
        # A plural message: every form keeps the singular's fields ({count} included).
        source = _forms(message.id)[0]
        for form in _forms(message.string):
            assert sorted(FIELD.findall(source)) == sorted(FIELD.findall(form)), message.id
            assert source.count("<b>") == form.count("<b>"), message.id


def _forms(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return [""]
    return [value] if isinstance(value, str) else list(value)


def test_a_catalog_being_compiled_is_never_seen_half_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test workers (and a CLI command beside the bot) compile at once; one that opened a
    .mo while another was writing it failed to parse it. The .mo appears only whole."""
    from babel.messages import mofile

    from bot.i18n import Catalogs, compile_catalogs

    po = ROOT / "locales" / "ru" / "LC_MESSAGES" / "messages.po"
    target = tmp_path / "ru" / "LC_MESSAGES"
    target.mkdir(parents=True)
    (target / "messages.po").write_bytes(po.read_bytes())
    seen_while_writing: list[bool] = []
    real_write_mo = mofile.write_mo

    def write_mo(fileobj, catalog, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_write_mo(fileobj, catalog, *args, **kwargs)
        seen_while_writing.append((target / "messages.mo").exists())

    monkeypatch.setattr(mofile, "write_mo", write_mo)
    compile_catalogs(tmp_path)
    assert seen_while_writing == [False]
    assert sorted(p.name for p in target.iterdir()) == ["messages.mo", "messages.po"]
    assert Catalogs(tmp_path).gettext("Cancel", locale="ru") != "Cancel"
