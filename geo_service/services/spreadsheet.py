"""Spreadsheet cells that hold user text as text, never as a formula.

Every CSV and XLSX the service writes (API downloads, ledger workbooks, the
return's workbooks, import templates and rejected-row files) is written
through this module, so that an enterprise name or a hazard description such
as ``=HYPERLINK("http://…")`` or ``-2+3+cmd|' /C calc'!A0`` reaches the
person opening the file as the characters it is, not as a formula (OWASP
"CSV injection").

* XLSX: :func:`workbook_bytes` and :func:`save_workbook` store every ``str`` cell as a string cell
  (``data_type "s"``) just before writing; openpyxl would otherwise store a
  value starting with ``=`` as a formula.  Numbers, dates and booleans keep
  their types.  Doing it at save time covers every cell however it was
  written; the service writes no formulas of its own.
* CSV: a file has no types, so a text value starting with ``= + - @``, a tab
  or a carriage return gets a leading ``'``, which spreadsheet programs show
  as "text follows".  Numbers (``int``/``float``/``Decimal``, negative ones
  too) are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook

__all__ = ["FORMULA_TRIGGERS", "csv_value", "csv_writer", "SafeCsvWriter", "text_cells", "workbook_bytes",
           "save_workbook"]

# A text cell starting with one of these is read as a formula by Excel, WPS or LibreOffice.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_value(value: Any) -> Any:
    """A value for a CSV cell: text that a spreadsheet would evaluate gets a leading ``'``.

    >>> csv_value("=1+2"), csv_value("-5"), csv_value(-5), csv_value("红河"), csv_value(None)
    ("'=1+2", "'-5", -5, '红河', None)
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


class SafeCsvWriter:
    """:func:`csv.writer` whose cells pass through :func:`csv_value`."""

    def __init__(self, f: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(f, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([csv_value(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(f: IO[str], **kwargs: Any) -> SafeCsvWriter:
    """A CSV writer for ``f`` that never lets a text cell become a formula."""
    return SafeCsvWriter(f, **kwargs)


def text_cells(wb: Workbook) -> Workbook:
    """Mark every text cell of ``wb`` as a string (never a formula); returns ``wb``.

    >>> wb = Workbook()
    >>> wb.active["A1"] = "=1+2"
    >>> wb.active["A1"].data_type, text_cells(wb).active["A1"].data_type
    ('f', 's')
    """
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    return wb


def workbook_bytes(wb: Workbook) -> bytes:
    """``wb`` as XLSX bytes, every text cell stored as text."""
    buf = io.BytesIO()
    text_cells(wb).save(buf)
    return buf.getvalue()


def save_workbook(wb: Workbook, path: Path | str) -> None:
    """Save ``wb`` to ``path``, every text cell stored as text."""
    text_cells(wb).save(path)
