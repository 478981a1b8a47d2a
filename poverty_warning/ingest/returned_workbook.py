"""A sub-district's returned outreach workbook, read as rows of the outreach_feedback feed.

Only rows where the worker filled in at least one feedback column become feedback; the sub-district
comes from the workbook's own document property, so that landing can refuse a row about another
sub-district's case. Dates typed as text (2026/11/20) or entered as Excel dates are both accepted.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from poverty_warning.ingest.errors import FeedFileError
from poverty_warning.contract.workbook import (CASE_ID_HEADER, FEEDBACK_HEADERS, INSTRUCTIONS_SHEET,
                                               PROPERTY_SUBDISTRICT)

HEADER = ["case_id", *FEEDBACK_HEADERS.values(), "subdistrict_code"]
LOOSE_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
HEADER_SEARCH_ROWS = 5


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    loose = LOOSE_DATE.match(text)
    if loose:
        y, m, d = loose.groups()
        return f"{y}-{int(m):02d}-{int(d):02d}"
    return text


def read_feedback(path: Path, rel: str, delivery_date: str | None) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the feedback the workbook carries; raises FeedFileError for a file that is not
    a returned outreach workbook."""
    from openpyxl import load_workbook


    book = load_workbook(path, read_only=False, data_only=True)
    props = {p.name: p.value for p in book.custom_doc_props.props}
    subdistrict = _text(props.get(PROPERTY_SUBDISTRICT))
    rows: list[list[str]] = []
    found_list = False
    for sheet in book.worksheets:
        if sheet.title == INSTRUCTIONS_SHEET:
            continue
        cells = list(sheet.iter_rows(values_only=True))
        header_at = next((i for i, row in enumerate(cells[:HEADER_SEARCH_ROWS]) if CASE_ID_HEADER in row), None)
        if header_at is None:
            continue
        found_list = True
        header = [_text(h) for h in cells[header_at]]
        where = {name: header.index(name) for name in [CASE_ID_HEADER, *FEEDBACK_HEADERS] if name in header}
        for row in cells[header_at + 1:]:
            value = {name: _text(row[i]) if i < len(row) else "" for name, i in where.items()}
            feedback = [value.get(h, "") for h in FEEDBACK_HEADERS]
            if not any(feedback):
                continue  # not acted on yet
            if not value.get("走访日期") and delivery_date:
                feedback[1] = delivery_date  # returned without a visit date: the day it came back
            rows.append([value.get(CASE_ID_HEADER, ""), *feedback, subdistrict])
    if not found_list:
        raise FeedFileError(f"{rel}: not a returned outreach workbook (no sheet with a {CASE_ID_HEADER} column)")
    return HEADER, rows
