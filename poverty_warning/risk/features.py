"""The model's inputs, read from marts.fct_household_features (with the label of marts.fct_household_labels
for training), and their Chinese reason phrases."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

FEATURES = [
    "burden_1m", "burden_3m", "burden_6m", "burden_12m", "burden_trend_3m", "inpatient_stays_3m", "inpatient_stays_12m",
    "special_outpatient_12m", "emergency_visits_6m", "cancer_12m", "kidney_failure_12m", "stroke_12m",
    "chronic_12m", "catastrophic_3m", "symptom_visits_3m", "oldest_age", "youngest_age", "members_65_plus", "members_under_18",
    "household_size", "per_capita_income", "has_policy_category", "has_dibao_or_tekun", "has_low_income",
    "has_disability", "assets_within_limit", "rule_ratio", "ratio_3m_annualised", "ratio_6m_annualised",
    "warned_last_month",
]

# Why a feature raised a household's score, in words a sub-district worker uses.
REASON_ZH = {
    "burden_1m": "本月医疗费用较高", "burden_3m": "近3个月医疗费用较高", "burden_6m": "近6个月医疗费用较高",
    "burden_12m": "近12个月医疗负担较重",
    "burden_trend_3m": "医疗费用明显上升", "inpatient_stays_3m": "近3个月有住院", "inpatient_stays_12m": "近一年多次住院",
    "special_outpatient_12m": "门诊慢特病治疗频繁", "emergency_visits_6m": "近期多次急诊",
    "cancer_12m": "患恶性肿瘤", "kidney_failure_12m": "患尿毒症需透析", "stroke_12m": "患脑卒中",
    "chronic_12m": "患慢性病", "catastrophic_3m": "近3个月新发重大疾病", "symptom_visits_3m": "近期出现待查症状的就诊",
    "oldest_age": "家中有高龄老人",
    "youngest_age": "家中有幼儿", "members_65_plus": "老年成员较多", "members_under_18": "未成年成员较多",
    "household_size": "家庭人口情况", "per_capita_income": "家庭人均收入低", "has_policy_category": "属于救助对象",
    "has_dibao_or_tekun": "低保或特困家庭", "has_low_income": "低收入或低保边缘家庭", "has_disability": "家中有重度残疾人",
    "assets_within_limit": "家庭财产符合救助条件", "rule_ratio": "医疗负担占收入比例已较高",
    "ratio_3m_annualised": "近3个月负担折合全年已占收入较高比例",
    "ratio_6m_annualised": "近半年负担折合全年已占收入较高比例", "warned_last_month": "上月已在预警名单",
}
assert set(REASON_ZH) == set(FEATURES)

# What each feature is, as a column heading a reviewer reads (the drift table of the quality report).
LABEL_ZH = {
    "burden_1m": "当月个人医疗负担", "burden_3m": "近3个月个人医疗负担", "burden_6m": "近6个月个人医疗负担",
    "burden_12m": "近12个月个人医疗负担", "burden_trend_3m": "近3个月负担变化趋势",
    "inpatient_stays_3m": "近3个月住院次数", "inpatient_stays_12m": "近12个月住院次数",
    "special_outpatient_12m": "近12个月门诊慢特病次数", "emergency_visits_6m": "近6个月急诊次数",
    "cancer_12m": "近12个月恶性肿瘤就诊", "kidney_failure_12m": "近12个月尿毒症就诊", "stroke_12m": "近12个月脑卒中就诊",
    "chronic_12m": "近12个月慢性病就诊", "catastrophic_3m": "近3个月新发重大疾病", "symptom_visits_3m": "近3个月待查症状就诊",
    "oldest_age": "家中最大年龄", "youngest_age": "家中最小年龄", "members_65_plus": "65岁以上成员数",
    "members_under_18": "未成年成员数", "household_size": "家庭人数", "per_capita_income": "家庭人均收入",
    "has_policy_category": "有救助身份", "has_dibao_or_tekun": "低保或特困", "has_low_income": "低收入或低保边缘",
    "has_disability": "有重度残疾成员", "assets_within_limit": "财产符合条件", "rule_ratio": "负担占收入比例",
    "ratio_3m_annualised": "近3个月负担折年占收入比例", "ratio_6m_annualised": "近6个月负担折年占收入比例",
    "warned_last_month": "上月已预警",
}
assert set(LABEL_ZH) == set(FEATURES)


def load(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The features of every household-month (the whole history)."""
    return _typed(con.execute("SELECT * FROM marts.fct_household_features").df())


def load_month(con: duckdb.DuckDBPyConnection, month: dt.date) -> pd.DataFrame:
    """The features of one month (what a night scores), or of the latest month when that one has none:
    a night reads one month, not the whole history."""
    return _typed(con.execute(
        "SELECT * FROM marts.fct_household_features WHERE feature_month = coalesce("
        "(SELECT max(feature_month) FROM marts.fct_household_features WHERE feature_month = CAST(? AS DATE)), "
        "(SELECT max(feature_month) FROM marts.fct_household_features))", [month]).df())


def load_labelled(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The features with their label (what training and backtests read); the label models are built on
    demand (training.build_training_models)."""
    return _typed(con.execute(
        "SELECT f.*, l.at_line_now, l.label, l.label_complete FROM marts.fct_household_features AS f "
        "INNER JOIN marts.fct_household_labels AS l USING (household_id, feature_month)").df())


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame["feature_month"] = pd.to_datetime(frame["feature_month"])
    frame = frame.sort_values(["feature_month", "household_id"], kind="stable").reset_index(drop=True)
    for col in FEATURES:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame
