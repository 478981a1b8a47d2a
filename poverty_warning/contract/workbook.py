"""The outreach workbook's layout, shared by the writer (publish) and the reader of returned
workbooks (ingest): a worker fills in the feedback columns and sends the file back.
"""
from __future__ import annotations

INSTRUCTIONS_SHEET = "说明"
TITLE_ROWS = 1  # a title row (sub-district, night) above each list's header row
CASE_ID_HEADER = "案件编号"
# feedback column -> the outreach_feedback feed's column it fills
FEEDBACK_HEADERS = {"走访结果": "status", "走访日期": "updated_at", "是否同意慈善转介": "consent_to_charity",
                    "备注": "note"}
# Document properties that say whose workbook it is, read back from a returned file.
PROPERTY_SUBDISTRICT = "subdistrict_code"
PROPERTY_NIGHT = "night"
