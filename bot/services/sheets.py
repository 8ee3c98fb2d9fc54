"""Tables as files: XLSX to print and sign, CSV to load elsewhere — the attendance sheet
(ведомость) of an exam, and the dean's reports.

The caller builds the `Sheet` (or `Table`) with every caption already in the user's
language; this module only lays it out, so it knows nothing of the database or of gettext.
"""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell, MergedCell

SHEET_NAME = "Ведомость"

# Record book and ticket are identifiers, not quantities: "0012" must not become 12.
_TEXT_COLUMNS = frozenset({"record_book", "ticket"})
_MIN_WIDTH = 5
_MAX_WIDTH = 60
# Excel (and LibreOffice) read a cell starting with one of these as a formula, both in a
# CSV and when the user edits an XLSX cell; names and groups come from imported files.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class SheetRow:
    number: int
    full_name: str
    record_book: str
    group: str
    subgroup: str
    attendance: str
    grade: str
    ticket: str


_ROW_FIELDS = [field.name for field in fields(SheetRow)]


@dataclass(frozen=True)
class Sheet:
    title: str  # e.g. "Ведомость: Гистология, группа 101, 01.12.2026 09:00"
    header_lines: list[str]  # above the table: teacher, form, confirmed at ...
    columns: list[str]  # captions of the SheetRow fields, in that order
    rows: list[SheetRow]
    totals: list[str]  # under the table, e.g. the closing text
    sheet_name: str = SHEET_NAME  # the worksheet's tab, in the reader's language


@dataclass(frozen=True)
class Chart:
    """A bar chart on a sheet of its own, beside the table: one bar group a category, one
    bar (or stacked part) a series. The numbers are written on that sheet too, so the
    chart stays editable in Excel."""

    title: str
    sheet_name: str
    category_caption: str  # the caption over the categories' column
    categories: list[str]
    series: list[tuple[str, list[int]]]  # (caption, one value per category)
    y_title: str = ""
    stacked: bool = False


@dataclass(frozen=True)
class Table:
    """Any table: a title, free lines above, captions, rows, free lines below."""

    title: str
    header_lines: list[str]
    columns: list[str]
    rows: list[tuple[str | int, ...]]
    totals: list[str] = field(default_factory=list)
    text_columns: frozenset[int] = frozenset()  # 0-based: identifiers, never numbers
    sheet_name: str = SHEET_NAME
    chart: Chart | None = None


def _check(sheet: Sheet) -> None:
    if len(sheet.columns) != len(_ROW_FIELDS):
        raise ValueError(
            f"a sheet needs {len(_ROW_FIELDS)} column captions, got {len(sheet.columns)}"
        )


def _table(sheet: Sheet) -> Table:
    _check(sheet)
    return Table(
        title=sheet.title,
        header_lines=sheet.header_lines,
        columns=sheet.columns,
        rows=[astuple(item) for item in sheet.rows],
        totals=sheet.totals,
        sheet_name=sheet.sheet_name,
        text_columns=frozenset(i for i, name in enumerate(_ROW_FIELDS) if name in _TEXT_COLUMNS),
    )


def _as_text(cell: Cell | MergedCell, value: str) -> None:
    # openpyxl turns any string starting with "=" into a formula; a name is never one.
    cell.value = value
    cell.data_type = "s"


def sheet_xlsx(sheet: Sheet) -> bytes:
    return table_xlsx(_table(sheet))


def sheet_csv(sheet: Sheet) -> bytes:
    return table_csv(_table(sheet))


def table_xlsx(sheet: Table) -> bytes:
    """One worksheet: the title in bold, the header lines, the table (bold captions, frozen
    under them, filter on), then the totals. Ready to print on A4 landscape."""
    # Imported here, as in services/imports.py: openpyxl is slow to import and only the
    # export needs it.
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    ws = workbook.active
    assert ws is not None  # a new Workbook always has one sheet
    ws.title = sheet.sheet_name[:31]  # Excel's limit for a sheet name

    _as_text(ws.cell(row=1, column=1), sheet.title)
    ws.cell(row=1, column=1).font = Font(bold=True, size=13)
    row = 2
    for line in sheet.header_lines:
        _as_text(ws.cell(row=row, column=1), line)
        row += 1
    row += 1  # a blank line between the header and the table

    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_row = row
    for col, caption in enumerate(sheet.columns, start=1):
        cell = ws.cell(row=header_row, column=col)
        _as_text(cell, caption)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", start_color="DDDDDD")
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cell.border = border

    widths = [len(caption) for caption in sheet.columns]
    for item in sheet.rows:
        row += 1
        for col, value in enumerate(item, 1):
            cell = ws.cell(row=row, column=col)
            if isinstance(value, int):
                cell.value = value
            else:
                _as_text(cell, value)
            if col - 1 in sheet.text_columns:
                # "@" keeps it text when the teacher retypes the cell in Excel.
                cell.number_format = "@"
            cell.border = border
            widths[col - 1] = max(widths[col - 1], len(str(value)))
    last_table_row = row

    row += 1  # a blank line before the totals
    for line in sheet.totals:
        row += 1
        _as_text(ws.cell(row=row, column=1), line)

    # The title and the free lines sit in column A and overflow to the right, so they do not
    # count towards its width.
    for col, width in enumerate(widths, start=1):
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = min(_MAX_WIDTH, max(_MIN_WIDTH, width + 2))
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1).coordinate
    last_letter = get_column_letter(len(sheet.columns))
    ws.auto_filter.ref = f"A{header_row}:{last_letter}{last_table_row}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    page_setup = ws.sheet_properties.pageSetUpPr
    assert page_setup is not None  # a new worksheet's properties have one
    page_setup.fitToPage = True

    if sheet.chart is not None and sheet.chart.categories:
        _chart_sheet(workbook, sheet.chart)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# Excel draws a chart of this many categories legibly; the rest stay in the table.
MAX_CHART_CATEGORIES = 60


def _chart_sheet(workbook: Workbook, chart: Chart) -> None:
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws = workbook.create_sheet(chart.sheet_name[:31])
    categories = chart.categories[:MAX_CHART_CATEGORIES]
    _as_text(ws.cell(row=1, column=1), chart.category_caption)
    ws.cell(row=1, column=1).font = Font(bold=True)
    for col, (caption, _values) in enumerate(chart.series, start=2):
        _as_text(ws.cell(row=1, column=col), caption)
        ws.cell(row=1, column=col).font = Font(bold=True)
    for row, category in enumerate(categories, start=2):
        _as_text(ws.cell(row=row, column=1), category)
        for col, (_caption, values) in enumerate(chart.series, start=2):
            ws.cell(row=row, column=col, value=values[row - 2])
    ws.column_dimensions["A"].width = min(_MAX_WIDTH, max(len(c) for c in categories) + 2)
    last = len(categories) + 1
    bars = BarChart()
    bars.type = "bar"  # horizontal: long "group — discipline" labels stay readable
    bars.title = chart.title
    bars.y_axis.title = chart.y_title
    if chart.stacked:
        bars.grouping = "stacked"
        bars.overlap = 100
    data = Reference(ws, min_col=2, max_col=len(chart.series) + 1, min_row=1, max_row=last)
    bars.add_data(data, titles_from_data=True)
    bars.set_categories(Reference(ws, min_col=1, min_row=2, max_row=last))
    bars.height = max(7.5, 0.6 * len(categories) + 3)  # cm: room for every label
    bars.width = 24
    ws.add_chart(bars, f"{get_column_letter(len(chart.series) + 3)}2")


def _csv_safe(value: str) -> str:
    # The usual defence against CSV formula injection: a leading apostrophe makes Excel show
    # the text as is. A lone "-" (an empty grade, say) is no formula and stays.
    if len(value) > 1 and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def table_csv(sheet: Table) -> bytes:
    """The table only: the captions, then the rows. UTF-8 with a BOM and ";" between cells,
    which is what Excel in a Russian locale opens with a double click.

    Excel still reads "0012" in a CSV as the number 12; the XLSX is the file for Excel.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow([_csv_safe(caption) for caption in sheet.columns])
    for item in sheet.rows:
        writer.writerow([_csv_safe(str(value)) for value in item])
    return buffer.getvalue().encode("utf-8-sig")
