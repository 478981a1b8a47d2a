"""The sub-district's outreach workbook: what a worker opens, acts on and sends back.

A 说明 sheet first (what each list means, what to do, by when, how to send feedback), then one sheet
per list: a title row, a styled header with a filter, one row per household in the order to act,
amounts as numbers, ratios as percentages, dates as dates, wrapped reasons, the header frozen and
repeated on every printed A4 landscape page, and the feedback columns (a dropdown of the statuses, a
date, 是/否, a note) that the returned file carries back into the `outreach_feedback` feed.

Every value from a feed is written as a string cell (never a formula, URL or number): a resident
named `=HYPERLINK(...)` stays text. The CSV copies neutralise formula prefixes the OWASP way.
"""
from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass

import pandas as pd
import xlsxwriter

from poverty_warning.contract.vocabulary import FEEDBACK_STATUS_ZH, LIST_TITLES, PRIORITY_ZH
from poverty_warning.contract.workbook import (CASE_ID_HEADER, FEEDBACK_HEADERS, INSTRUCTIONS_SHEET,
                                               PROPERTY_NIGHT, PROPERTY_SUBDISTRICT, TITLE_ROWS)

TEXT, INT, AMOUNT, RATIO, DATE, SCORE = "text", "int", "amount", "ratio", "date", "score"
CJK_AT_9PT = 0.85  # a 9-point character, in column-width units per unit _width counts


@dataclass(frozen=True)
class Col:
    key: str  # column of the case items
    header: str  # what the worker reads
    kind: str = TEXT
    width: float = 10  # in Excel's character units, chosen so a list prints on one A4 landscape width
    wrap: bool = False  # long text wraps within its width
    in_workbook: bool = True  # False: only in the CSV and the webhook payload


ACTION_ZH = {"new": "新增", "escalated": "升级", "reminder": "再次提醒"}
OVERDUE_ZH = "逾期升级"
HEAD = [Col("list_rank", "序号", INT, 4.5), Col("case_id", CASE_ID_HEADER, width=16),
        Col("action_zh_state", "案件状态", width=7, wrap=True),
        Col("priority", "优先级", width=5.5), Col("due_date", "反馈截止日期", DATE, 9.5, wrap=True),
        Col("household_id", "家庭编号", width=17, in_workbook=False),
        Col("contact_label", "联系人", width=17, wrap=True), Col("phone", "联系电话", width=11),
        Col("community_address", "社区及地址", width=16, wrap=True), Col("members", "涉及成员", width=17, wrap=True),
        Col("categories_zh", "救助身份", width=8, wrap=True)]
BURDEN = [Col("burden_amount", "医疗负担（元）", AMOUNT, 10.5, wrap=True),
          Col("income_amount", "家庭年收入（元）", AMOUNT, 10.5, wrap=True),
          Col("burden_ratio", "负担比例", RATIO, 7, wrap=True)]
ASSISTANCE = [Col("expected_assistance", "应得救助（元）", AMOUNT, 10, wrap=True),
              Col("paid_assistance", "已付救助（元）", AMOUNT, 10, wrap=True),
              Col("unpaid_assistance", "未付救助（元）", AMOUNT, 10, wrap=True)]
RISK = [Col("risk_score", "风险评分", SCORE, 6, wrap=True), Col("risk_band", "风险等级", width=6, wrap=True),
        Col("model_note", "模型说明", width=10, wrap=True)]  # 模型未使用本地数据训练 when the model learnt elsewhere
TAIL = [Col("reason_zh", "原因", width=24, wrap=True), Col("action_zh", "建议措施", width=13, wrap=True)]
FEEDBACK = [Col(f"feedback_{i}", h, DATE if field == "updated_at" else TEXT,
                {"status": 8.5, "updated_at": 9.5, "consent_to_charity": 7, "note": 10}[field], wrap=True)
            for i, (h, field) in enumerate(FEEDBACK_HEADERS.items())]
# A new list (e.g. 疑似低保未覆盖 from the policy work's `fct_suspected_dibao_uncovered`, once on main) is one
# more `union all` branch in int_outreach_flags.sql with its list_kind, and one entry in LIST_TITLES
# (contract/vocabulary.py), LIST_COLUMNS and LIST_MEANING: sheet, CSV, payload and feedback follow.
LIST_COLUMNS = {  # list kind -> its columns
    "enrollment_gap": HEAD + TAIL + FEEDBACK,
    "candidate": HEAD + BURDEN + TAIL + FEEDBACK,
    "unpaid": HEAD + ASSISTANCE + TAIL + FEEDBACK,
    "warning": HEAD + BURDEN + RISK + TAIL + FEEDBACK,
    "referral_consent": HEAD + BURDEN + ASSISTANCE[:1] + TAIL + FEEDBACK,
    "dibao_uncovered": HEAD + BURDEN[1:2] + TAIL + FEEDBACK,
}
LIST_MEANING = {
    "enrollment_gap": "救助对象未参加城乡居民医保，或已参保但未享受应有的个人缴费资助。",
    "candidate": "家庭医疗支出负担已达到支出型贫困（因病致贫）认定标准，可申请救助。",
    "unpaid": "按政策应得的医疗救助尚未足额支付（应救未救）。",
    "warning": "近期医疗费用占家庭年收入比例较高，有因病致贫返贫风险，需要关注。",
    "referral_consent": "救助之外负担仍重，可推荐给慈善项目；须先征得本人同意。",
    "dibao_uncovered": "家庭收入本身已低于低保标准，但家中无人享受低保或特困供养：请核实并指导申请低保。",
}


def display_frame(items: pd.DataFrame, kind: str) -> pd.DataFrame:
    """The rows of one list, typed for writing: numbers as floats, dates as dates, the rest as text."""
    cols = LIST_COLUMNS[kind]
    # The order to act in: priority (an overdue case has risen), then the list's own order.
    frame = items.sort_values(["level", "list_rank", "case_id"], ascending=[False, True, True],
                              kind="mergesort").copy() if len(items) else items.copy()
    state = frame.get("action_taken", pd.Series(dtype=object)).map(ACTION_ZH)
    overdue = frame.get("overdue", pd.Series(False, index=frame.index)).fillna(False).astype(bool)
    frame["action_zh_state"] = state.where(~overdue, OVERDUE_ZH)
    frame["list_rank"] = range(1, len(frame) + 1)  # the row's place on this sub-district's list tonight
    if "members" in frame:  # a household-level flag names no member: the whole household is meant
        frame["members"] = frame["members"].where(frame["members"].notna() & frame["members"].ne(""), "全户")
    frame["community_address"] = [" ".join(p for p in (c, a) if isinstance(p, str) and p) for c, a in
                                  zip(frame.get("community_name", pd.Series(index=frame.index, dtype=object)),
                                      frame.get("address", pd.Series(index=frame.index, dtype=object)))]
    out = {}  # header -> column, made into one frame at the end (inserting column by column is slow)
    for col in cols:
        values = frame[col.key] if col.key in frame else pd.Series(None, index=frame.index, dtype=object)
        if col.kind in (AMOUNT, RATIO, SCORE):
            out[col.header] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == INT:
            out[col.header] = values.astype(int)
        elif col.kind == DATE:
            out[col.header] = values.map(lambda v: None if v is None or pd.isna(v) else pd.Timestamp(v).date())
        else:
            out[col.header] = values.map(lambda v: "" if v is None or (not isinstance(v, str) and pd.isna(v))
                                         else str(v))
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


def _width(value) -> int:
    text = value if isinstance(value, str) else f"{value:,.2f}" if isinstance(value, float) else str(value)
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def render(sheets: dict[str, pd.DataFrame], subdistrict_code: str, subdistrict_name: str, night: str,
           cfg: dict) -> bytes:
    """The workbook as bytes (deterministic: the same lists give the same file)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                        "strings_to_numbers": False})
    book.set_properties({"title": f"外展名单 {subdistrict_name} {night}", "created": dt.datetime(2000, 1, 1)})
    book.set_custom_property(PROPERTY_SUBDISTRICT, subdistrict_code)
    book.set_custom_property(PROPERTY_NIGHT, night)
    fmt = _formats(book)
    _instructions(book, fmt, sheets, subdistrict_code, subdistrict_name, night, cfg)
    for kind, title in LIST_TITLES.items():
        _list_sheet(book, fmt, title, kind, sheets[title], f"{subdistrict_name}（{subdistrict_code}）", night)
    book.close()
    return buffer.getvalue()


def _formats(book) -> dict:
    base = {"font_name": "等线", "font_size": 9, "valign": "top"}
    f = {
        "title": {"bold": True, "font_size": 14, "valign": "vcenter"},
        "header": {"bold": True, "bg_color": "#1F4E79", "font_color": "#FFFFFF", "text_wrap": True,
                   "valign": "vcenter", "align": "center", "border": 1},
        TEXT: {"border": 1, "border_color": "#BFBFBF"},
        "wrap": {"border": 1, "border_color": "#BFBFBF", "text_wrap": True},
        INT: {"border": 1, "border_color": "#BFBFBF", "num_format": "0"},
        AMOUNT: {"border": 1, "border_color": "#BFBFBF", "num_format": "#,##0.00"},
        RATIO: {"border": 1, "border_color": "#BFBFBF", "num_format": "0.0%"},
        SCORE: {"border": 1, "border_color": "#BFBFBF", "num_format": "0.000"},
        DATE: {"border": 1, "border_color": "#BFBFBF", "num_format": "yyyy-mm-dd", "align": "left"},
        "feedback": {"border": 1, "border_color": "#BFBFBF", "bg_color": "#FFF2CC", "text_wrap": True},
        "feedback_date": {"border": 1, "border_color": "#BFBFBF", "bg_color": "#FFF2CC",
                          "num_format": "yyyy-mm-dd", "align": "left"},
        "high": {"bold": True, "font_color": "#C00000", "border": 1, "border_color": "#BFBFBF"},
        "para": {"text_wrap": True, "valign": "top"},
        "h2": {"bold": True, "font_size": 11},
        "note": {"italic": True, "font_color": "#595959"},
    }
    return {k: book.add_format({**base, **v}) for k, v in f.items()}


def _instructions(book, fmt, sheets, code, name, night, cfg) -> None:
    sheet = book.add_worksheet(INSTRUCTIONS_SHEET)
    sheet.set_column(0, 0, 22)
    sheet.set_column(1, 1, 90)
    sheet.set_landscape()
    sheet.set_paper(9)
    sheet.fit_to_pages(1, 0)
    sheet.write_string(0, 0, f"{name}（{code}）外展名单 · {night}", fmt["title"])
    due = cfg["due_days"]
    statuses = "、".join(FEEDBACK_STATUS_ZH.values())
    rows = [("h2", "这份名单是什么", ""),
            ("para", "用途", "医疗保障局每晚根据医保结算、救助身份、参保和家庭收入数据，找出本街道因病致贫返贫风险较高、"
                            "或应享受而未享受待遇的家庭。每行是一户家庭在一张名单上的一个案件，按应处理的先后排序"
                            "（优先级高的在前，同级按未付救助金额、负担比例从高到低）。"),
            ("h2", "各张名单", "")]
    rows += [("para", f"{LIST_TITLES[k]}（{len(sheets[LIST_TITLES[k]])}户）", m) for k, m in LIST_MEANING.items()]
    rows += [("h2", "要做什么、何时完成", ""),
             ("para", "处理时限", f"优先级“高”的案件请在{due[PRIORITY_ZH[3]]}天内、“中”{due[PRIORITY_ZH[2]]}天内、"
                                 f"“低”{due[PRIORITY_ZH[1]]}天内联系并反馈，截止日期见“反馈截止日期”列。"
                                 "到期未反馈的案件会在下一期名单中“逾期升级”并提高优先级。"),
             ("para", "联系方式", "“联系人”是家庭中年龄最大、有电话的成员，电话为完整号码，仅供本街道工作人员联系使用，"
                                 "请勿外传。身份证号已脱敏，以姓名、出生年份和身份证号首尾数位识别本人。"),
             ("para", "案件状态", "新增：第一次下发；升级：优先级提高；再次提醒：超过冷却期仍未结案；"
                                 "逾期升级：到期未反馈。已获救助的案件不再下发。"),
             ("h2", "怎样反馈", ""),
             ("para", "1. 填写", f"在每张名单右侧的黄色列中填写：走访结果（下拉选择：{statuses}）、走访日期、"
                                "是否同意慈善转介（是/否，仅“待同意转介”名单需要填写）、备注。不要修改其他列，不要删除行。"),
             ("para", "2. 交回", "保存后将本文件原样（.xlsx）放入反馈收件箱 feeds/outreach_feedback/ 。"
                                "系统按案件编号读取已填写的行，次日起生效；未填写的行视为尚未处理。"),
             ("para", "3. 结果", "“已获救助”的案件结案；慈善转介填“是”后转介至慈善组织，填“否”后不再询问。"
                                "案件编号不存在、属于其他街道、或走访结果不在下拉选项中的行不会生效，"
                                "会记入数据质量报告的隔离记录（含原因），请按原因更正后重新交回。")]
    r = 2
    for style, label, text in rows:
        if style == "h2":
            r += 1
            sheet.write_string(r, 0, label, fmt["h2"])
        else:
            sheet.write_string(r, 0, label, fmt["para"])
            sheet.write_string(r, 1, text, fmt["para"])
            sheet.set_row(r, 15 * max(1, -(-_width(text) // 170)))
        r += 1
    sheet.write_string(r + 1, 0, "本文件含个人信息，仅限本街道办理救助使用。", fmt["note"])


def _list_sheet(book, fmt, title: str, kind: str, frame: pd.DataFrame, area: str, night: str) -> None:
    cols = [c for c in LIST_COLUMNS[kind] if c.in_workbook]
    frame = frame[[c.header for c in cols]]
    sheet = book.add_worksheet(title)
    header_row = TITLE_ROWS
    last_col = len(cols) - 1
    sheet.merge_range(0, 0, 0, min(last_col, 11), f"{area} · {title} · {night}（共{len(frame)}户）", fmt["title"])
    sheet.set_row(0, 24)
    sheet.set_row(header_row, 30)
    feedback_headers = set(FEEDBACK_HEADERS)
    for c, col in enumerate(cols):
        sheet.write_string(header_row, c, col.header, fmt["header"])
        sheet.set_column(c, c, col.width)
    for r, row in enumerate(frame.itertuples(index=False), start=header_row + 1):
        # Row heights are set, not left to the viewer: wrapped text shows in full in Excel, LibreOffice and print.
        lines = max([1] + [math.ceil(_width(v) * CJK_AT_9PT / (col.width - 1)) for col, v in zip(cols, row)
                           if col.wrap and isinstance(v, str) and v])
        sheet.set_row(r, 12 * lines + 3)
        for c, (col, value) in enumerate(zip(cols, row)):
            if col.header in feedback_headers:
                sheet.write_blank(r, c, None, fmt["feedback_date" if col.kind == DATE else "feedback"])
            elif value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
                sheet.write_blank(r, c, None, fmt[TEXT])
            elif col.kind in (AMOUNT, RATIO, SCORE, INT):
                sheet.write_number(r, c, float(value), fmt[col.kind])
            elif col.kind == DATE:
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), fmt[DATE])
            elif col.header == "优先级" and value == PRIORITY_ZH[3]:
                sheet.write_string(r, c, value, fmt["high"])
            else:
                sheet.write_string(r, c, value, fmt["wrap" if col.wrap else TEXT])
    last_row = header_row + max(len(frame), 1)
    if frame.empty:
        sheet.write_string(header_row + 1, 0, "今晚本街道没有需要处理的案件。", fmt["note"])
    sheet.autofilter(header_row, 0, last_row, last_col)
    _feedback_validation(sheet, cols, header_row + 1, last_row)
    sheet.freeze_panes(header_row + 1, 2)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.set_margins(left=0.3, right=0.3, top=0.5, bottom=0.5)
    sheet.repeat_rows(0, header_row)
    sheet.fit_to_pages(1, 0)
    sheet.set_footer(f"&L{title}&C第 &P 页，共 &N 页&R{night}")


def _feedback_validation(sheet, cols, first: int, last: int) -> None:
    headers = [c.header for c in cols]
    status = headers.index("走访结果")
    sheet.data_validation(first, status, last, status, {
        "validate": "list", "source": list(FEEDBACK_STATUS_ZH.values()),
        "input_title": "走访结果", "input_message": "请从下拉列表选择",
        "error_title": "走访结果", "error_message": "请从下拉列表选择：" + "、".join(FEEDBACK_STATUS_ZH.values())})
    visited = headers.index("走访日期")
    sheet.data_validation(first, visited, last, visited, {
        "validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1), "maximum": dt.date(2099, 12, 31),
        "input_title": "走访日期", "input_message": "例如 2026-11-20", "error_message": "请填写日期，例如 2026-11-20"})
    consent = headers.index("是否同意慈善转介")
    sheet.data_validation(first, consent, last, consent, {
        "validate": "list", "source": ["是", "否"], "error_message": "请选择“是”或“否”"})


def neutralise_csv_cell(value):
    """OWASP CSV injection: a text cell starting with = + - @ tab or CR gets a leading single quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
