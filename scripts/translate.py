"""Fills Russian msgstr values from a JSON file {msgid: msgstr} (a helper for scripts/i18n)."""

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PATH = Path("locales/ru/LC_MESSAGES/messages.po")

wanted = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
with PATH.open("rb") as f:
    catalog = read_po(f, locale="ru")
missing = set(wanted) - {m.id for m in catalog}
if missing:
    sys.exit(f"not in the catalog: {sorted(missing)}")
for message in catalog:
    if message.id in wanted:
        message.string = wanted[message.id]
with PATH.open("wb") as f:
    write_po(f, catalog, no_location=True, sort_output=True, width=100)
left = [m.id for m in catalog if m.id and not m.string]
sys.stdout.write(f"untranslated left: {len(left)}\n")
for msgid in left:
    sys.stdout.write(f"  {msgid!r}\n")
