"""Every row check of ../shared/contract/README.md §3 (`checks_for(feed)`, one expectation each) is
triggered here and read: the row is quarantined, the check flags exactly that row, and the reason is
the exact Chinese text a data-quality reviewer sees. A check no case triggers fails its own test."""
import pandas as pd
import pytest

from poverty_warning.contract import FEEDS
from poverty_warning.ingest.rowcheck import Reference, check, checks_for

DELIVERED = "2024-03-10"
PERSON, OTHER_PERSON, STRANGER = "310112198001010033", "310112198001010041", "360426199101010071"
BAD_CHECKSUM = "310112198001010042"  # ...041 is valid, so 2 is the wrong check digit

# One valid row per feed (the example feeds' first rows where there are any).
VALID = {
    "persons": {"person_id": PERSON, "name": "居民1", "sex": "M", "birth_date": "1980-01-01", "household_id": "HH-A",
                "relation": "head", "district_code": "310112", "subdistrict_code": "310112005",
                "subdistrict_name": "示例街道", "phone": ""},
    "household_income": {"household_id": "HH-A", "assessed_on": "2023-11-20", "annual_disposable_income": "110000",
                         "members_without_fixed_income": "0", "assets_within_limit": "true"},
    "assistance_categories": {"person_id": PERSON, "category": "low_income", "valid_from": "2000-01-01",
                              "valid_to": "", "source": "civil_affairs", "dibao_class": "", "disability_grade": ""},
    "enrollment": {"person_id": PERSON, "year": "2024", "scheme": "resident", "enrolled_from": "2024-01-01",
                   "enrolled_to": "2024-12-31", "premium_subsidy": "none"},
    # 87000 = 75000 in scope + 12000 out of scope; 75000 = 45000 fund + 30000 self-pay.
    "claims": {"claim_id": "C10001", "person_id": PERSON, "visit_type": "inpatient", "admit_date": "2023-08-15",
               "discharge_date": "2023-08-15", "settle_date": "2023-08-15", "hospital_id": "H001",
               "hospital_level": "2", "in_city": "true", "diagnosis_code": "K35.8", "total_cost": "87000.00",
               "policy_scope_cost": "75000.00", "basic_fund_paid": "45000.00", "critical_illness_paid": "0",
               "assistance_paid": "0", "other_paid": "0", "self_pay_in_scope": "30000", "self_pay_out_scope": "12000",
               "reversal_of": ""},
    "parameters": {"name": "dibao_monthly", "year": "2024", "value": "1510"},
    "charity_programs": {"program_id": "P1", "name": "大病关爱", "diagnosis_prefixes": "C", "min_age": "0",
                         "max_age": "60", "max_amount": "50000", "capacity": "10"},
    "fund_accounts": {"year": "2023", "funding": "1200000", "spending": "1000000", "balance": "300000",
                      "as_of": "2023-12-31"},
    "outreach_feedback": {"case_id": "CASE-1", "status": "contacted", "updated_at": "2024-03-10",
                          "consent_to_charity": "是", "note": "", "subdistrict_code": "310112005"},
}
# C00001 was landed earlier with the same amounts as the valid claim, in cents, in the contract's column order.
ORIGINAL = {"C00001": (8_700_000, 7_500_000, 4_500_000, 0, 0, 0, 3_000_000, 1_200_000)}
NEGATED = {"total_cost": "-87000", "policy_scope_cost": "-75000", "basic_fund_paid": "-45000",
           "critical_illness_paid": "0", "assistance_paid": "0", "other_paid": "0", "self_pay_in_scope": "-30000",
           "self_pay_out_scope": "-12000"}


def _reference(reversed_claims=()) -> Reference:
    return Reference(person_ids={PERSON, OTHER_PERSON}, claim_amounts=dict(ORIGINAL),
                     reversed_claims=set(reversed_claims), cases={"CASE-1": "310112005"})


def _run(feed: str, rows: list[dict], ref: Reference | None = None):
    frame = pd.DataFrame([{**VALID[feed], **row} for row in rows], dtype=str)
    frame.insert(0, "_row_number", [str(i + 1) for i in range(len(rows))])
    frame["_delivery_date"] = DELIVERED
    checked = check(feed, frame, ref or _reference())
    reasons = dict(zip(checked.quarantined["_row_number"].astype(int), checked.quarantined["reason"]))
    return checked, reasons


# The type checks, by kind: a bad value, and the reason it must produce for column {c}.
BY_KIND = {
    "required": ("", "必填字段 {c} 为空"),
    "resident_id": (BAD_CHECKSUM, "{c} 身份证号校验位错误"),
    "date": ("2024-02-30", "{c} 不是有效日期（应为YYYY-MM-DD）"),
    "integer": ("1.5", "{c} 不是整数（或超出±2147483647）"),  # the warehouse stores 32-bit integers
    "amount": ("1,250.00", "{c} 金额格式错误（应为至多两位小数的数字）"),
    "non_negative": ("-1", "{c} 不能为负数"),
    "boolean": ("maybe", "{c} 不是布尔值（true/false、1/0、是/否）"),
    "enum": ("bogus", "{c} 取值“bogus”不在允许范围（{allowed}）"),
    "printable": ("A\x1bB", "{c} 含有控制字符"),
    "form": ("../x", "{c} 格式错误（应为{form_zh}）"),
}

# Checks across columns or files: (feed, check) -> (rows, reference's reversed claims, {row: exact reasons}).
ACROSS = {
    ("persons", "unique:person_id"): ([{}, {}], (), {2: "person_id 在同一文件中重复"}),
    # Delivered 2024-03-10: born after it, or more than 120 years before it (1904-03-10 is exactly 120).
    ("persons", "plausible:birth_date"): (
        [{"birth_date": "2024-03-11"}, {"person_id": OTHER_PERSON, "birth_date": "1904-03-09"},
         {"person_id": "310112190403100094", "birth_date": "1904-03-10"}], (),
        {1: "出生日期不合理（晚于送达日期或年龄超过120岁）", 2: "出生日期不合理（晚于送达日期或年龄超过120岁）"}),
    # 310113 is another district of Shanghai than the row's 310112.
    ("persons", "area_within_district"): ([{"subdistrict_code": "310113005"}], (),
                                          {1: "subdistrict_code 的前6位与 district_code 不一致"}),
    ("outreach_feedback", "known_case"): ([{"case_id": "CASE-404"}], (),
                                          {1: "案件编号 CASE-404 不存在（不是外展名单发出的案件）"}),
    ("outreach_feedback", "own_subdistrict"): ([{"subdistrict_code": "310112006"}], (),
                                               {1: "案件 CASE-1 属于街道 310112005，不能由街道 310112006 的名单反馈"}),
    ("assistance_categories", "known_person"): ([{"person_id": STRANGER}], (), {1: "person_id 不在人员信息（persons）中"}),
    ("assistance_categories", "valid_range"): (
        [{"valid_from": "2024-01-01", "valid_to": "2023-12-31"}, {"valid_from": "2024-01-01", "valid_to": "2024-01-01"}],
        (), {1: "valid_to 早于 valid_from"}),
    ("enrollment", "known_person"): ([{"person_id": STRANGER}], (), {1: "person_id 不在人员信息（persons）中"}),
    ("claims", "known_person"): ([{"person_id": STRANGER}], (), {1: "person_id 不在人员信息（persons）中"}),
    # 11000 = 10000 + 1000 made 10000 + (−1000) = 9000: the identity holds, only the sign is wrong.
    ("claims", "non_negative_original"): (
        [{"total_cost": "9000", "policy_scope_cost": "10000", "basic_fund_paid": "6000", "self_pay_in_scope": "4000",
          "self_pay_out_scope": "-1000"}], (), {1: "非冲销记录的金额为负数"}),
    # A reversal must carry the negatives: positive amounts are both the wrong sign and not C00001's negatives.
    ("claims", "reversal_sign"): ([{"claim_id": "R1", "reversal_of": "C00001"}], (),
                                  {1: "冲销记录的金额应为原结算的负数；冲销金额与原结算 C00001 不符"}),
    ("claims", "identity:total_cost"): ([{"total_cost": "87000.01"}], (),
                                        {1: "total_cost 不等于 policy_scope_cost + self_pay_out_scope"}),
    ("claims", "identity:policy_scope_cost"): (
        [{"basic_fund_paid": "45000.01"}], (), {1: "policy_scope_cost 不等于 基金+大病+其他+救助+个人自付 之和"}),
    # 5,000,000.00 is plausible, a cent more is not (identities kept).
    ("claims", "plausible:total_cost"): (
        [{"claim_id": "C1", "total_cost": "5000000.01", "policy_scope_cost": "5000000.01",
          "basic_fund_paid": "4970000.01", "self_pay_out_scope": "0"},
         {"claim_id": "C2", "total_cost": "5000000.00", "policy_scope_cost": "5000000.00",
          "basic_fund_paid": "4970000.00", "self_pay_out_scope": "0"}], (), {1: "单笔结算金额超过500万元，不合理"}),
    ("claims", "inpatient_discharge"): ([{"discharge_date": ""}, {"claim_id": "C2", "visit_type": "outpatient",
                                                                   "admit_date": "", "discharge_date": ""}],
                                        (), {1: "住院结算缺少 discharge_date"}),
    ("claims", "discharge_after_admit"): ([{"discharge_date": "2023-08-14"}], (), {1: "discharge_date 早于 admit_date"}),
    ("claims", "unique:claim_id"): ([{"claim_id": "C00001"}, {}, {}], (),
                                    {1: "claim_id 重复（已有相同结算号）", 3: "claim_id 重复（已有相同结算号）"}),
    ("claims", "reversal_known"): ([{"claim_id": "R1", "reversal_of": "C404", **NEGATED}], (),
                                   {1: "冲销的原结算 C404 不存在"}),
    # Reversed once already (landed earlier), and twice within one file: only the first reversal stands.
    ("claims", "reversal_once"): ([{"claim_id": "R1", "reversal_of": "C00001", **NEGATED}], ("C00001",),
                                  {1: "原结算 C00001 已被冲销过"}),
    ("claims", "reversal_amounts"): (
        # the identities hold (−87000 = −75000 − 12000; −75000 = −44000 − 31000) but the split is not C00001's
        [{"claim_id": "R1", "reversal_of": "C00001", **NEGATED, "basic_fund_paid": "-44000",
          "self_pay_in_scope": "-31000"}], (), {1: "冲销金额与原结算 C00001 不符"}),
}


def _every_check():
    return [(feed, code) for feed in FEEDS for code in checks_for(feed)]


@pytest.mark.parametrize("feed, code", _every_check(), ids=[f"{f}-{c}" for f, c in _every_check()])
def test_every_row_check_is_triggered_with_its_exact_reason(feed, code):
    kind, _, column = code.partition(":")
    if (feed, code) in ACROSS:
        rows, reversed_claims, expected = ACROSS[(feed, code)]
        checked, reasons = _run(feed, rows, _reference(reversed_claims))
        assert reasons == expected
        flagged = set(map(int, checked.failed[code].nonzero()[0] + 1))
        assert flagged == set(expected)
        return
    assert kind in BY_KIND and column, f"no test triggers the row check {code} of {feed}"
    value, text = BY_KIND[kind]
    col = FEEDS[feed].column(column)
    checked, reasons = _run(feed, [{column: value}])
    # Chinese spellings a feed may use instead of the code (feedback statuses) are allowed too.
    aliases = "，或" + "/".join(a for a, _ in col.aliases) if col.aliases else ""
    expected = text.format(c=column, allowed="/".join(col.enum or ()) + aliases, form_zh=col.form_zh)
    assert 1 in reasons, f"{code} did not quarantine the row"
    assert expected in reasons[1].split("；"), reasons[1]
    assert checked.failed[code].tolist() == [True]


def test_a_second_reversal_in_the_same_file_is_refused():
    _, reasons = _run("claims", [{"claim_id": "R1", "reversal_of": "C00001", **NEGATED},
                                 {"claim_id": "R2", "reversal_of": "C00001", **NEGATED}])
    assert reasons == {2: "原结算 C00001 已被冲销过"}


def test_valid_rows_of_every_feed_pass_every_check():
    for feed in FEEDS:
        checked, reasons = _run(feed, [{}])
        assert reasons == {} and len(checked.loaded) == 1, feed

