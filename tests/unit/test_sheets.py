"""The attendance sheet files: the XLSX reads back as laid out, the CSV as a plain table."""

from __future__ import annotations

import csv
import io
from dataclasses import astuple

import pytest
from openpyxl import load_workbook

from bot.services.sheets import SHEET_NAME, Sheet, SheetRow, sheet_csv, sheet_xlsx

COLUMNS = ["№", "ФИО", "Зачётная книжка", "Группа", "Подгруппа", "Явка", "Оценка", "Билет"]
ROWS = [
    SheetRow(1, "Иванов Иван Иванович", "0012", "101", "1", "явился", "отлично", "07"),
    SheetRow(2, "Петров Пётр Петрович", "0013", "101", "1", "не явился", "", ""),
    SheetRow(3, '=HYPERLINK("x")', "12-345", "101", "2", "явился", "хорошо", "3"),
]
SHEET = Sheet(
    title="Ведомость: Гистология, группа 101, 01.12.2026 09:00",
    header_lines=["Преподаватель: Сидоров С. С.", "Форма: устное собеседование"],
    columns=COLUMNS,
    rows=ROWS,
    totals=["На экзамене устное собеседование прошли 2 чел.", "Подпись: ________"],
)


def test_xlsx_reads_back_as_laid_out() -> None:
    workbook = load_workbook(io.BytesIO(sheet_xlsx(SHEET)))
    ws = workbook[SHEET_NAME]
    assert ws["A1"].value == SHEET.title
    assert ws["A1"].font.bold
    assert [ws.cell(row=r, column=1).value for r in (2, 3)] == SHEET.header_lines
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    header_at = next(i for i, row in enumerate(values) if row == COLUMNS)
    assert all(ws.cell(row=header_at + 1, column=c).font.bold for c in range(1, 9))
    assert ws.freeze_panes == f"A{header_at + 2}"

    first = values[header_at + 1]
    assert first == [1, "Иванов Иван Иванович", "0012", "101", "1", "явился", "отлично", "07"]
    record_book = ws.cell(row=header_at + 2, column=3)
    assert record_book.data_type == "s"
    assert record_book.number_format == "@"
    # A name that looks like a formula stays text, not a live formula.
    formula_like = ws.cell(row=header_at + 4, column=2)
    assert formula_like.value == '=HYPERLINK("x")'
    assert formula_like.data_type == "s"

    texts = [v[0] for v in values[header_at + 1 + len(ROWS) :] if v[0] is not None]
    assert texts == SHEET.totals
    assert ws.column_dimensions["B"].width >= len("Иванов Иван Иванович")


def test_csv_is_the_same_table_for_excel() -> None:
    data = sheet_csv(SHEET)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == COLUMNS
    expected = [[str(value) for value in astuple(row)] for row in ROWS]
    expected[2][1] = "'" + expected[2][1]  # formula injection defused for Excel
    assert rows[1:] == expected


def test_captions_must_match_the_columns() -> None:
    broken = Sheet(title="t", header_lines=[], columns=COLUMNS[:-1], rows=[], totals=[])
    with pytest.raises(ValueError):
        sheet_xlsx(broken)
    with pytest.raises(ValueError):
        sheet_csv(broken)


def test_empty_sheet_still_has_the_table_header() -> None:
    empty = Sheet(title="t", header_lines=[], columns=COLUMNS, rows=[], totals=[])
    ws = load_workbook(io.BytesIO(sheet_xlsx(empty)))[SHEET_NAME]
    assert [c.value for c in ws[3]] == COLUMNS
    assert sheet_csv(empty).decode("utf-8-sig").splitlines() == [";".join(COLUMNS)]
