"""The vocabulary, declared once: categories, rules, benefits, list kinds and their Chinese labels.

Codes are what the feeds, packs, dbt models and outputs carry; the labels are what a worker reads.
"""
from __future__ import annotations

CATEGORIES = (
    "tekun", "dibao", "dibao_edge", "low_income", "expenditure_poverty", "orphan",
    "distressed_child", "special_relief", "poverty_alleviated", "sanmin",
    "hardship_worker", "priority_care", "downsized_worker", "three_old",
    "severe_mental_illness", "severe_disability", "returnee",
)
CATEGORY_NAMES_ZH = {
    "tekun": "特困人员", "dibao": "低保对象", "dibao_edge": "低保边缘", "low_income": "低收入对象",
    "expenditure_poverty": "支出型贫困家庭成员", "orphan": "孤儿", "distressed_child": "困境儿童",
    "special_relief": "特殊救济对象", "poverty_alleviated": "过渡期内脱贫户", "sanmin": "“三民”人员",
    "hardship_worker": "特困职工", "priority_care": "重点优抚对象", "downsized_worker": "精减退职职工",
    "three_old": "“三老”人员", "severe_mental_illness": "重度精神病患者",
    "severe_disability": "重度残疾人", "returnee": "支内/支疆/知青回沪人员",
}
RULE_ZH = {
    "expenditure_poverty_type1": "第一类支出型贫困", "expenditure_poverty_type2": "第二类支出型贫困",
    "special_hardship_expense_70": "其他特殊困难人员（支出70%）", "low_income_major_illness": "低收入家庭大重病患者",
}
RULES = tuple(RULE_ZH)
BENEFIT_ZH = {"inpatient": "住院救助", "outpatient": "门急诊救助", "outpatient_cash": "门诊救助金",
              "mutual_aid_subsidy": "门诊互助补贴", "mutual_aid_outpatient": "门诊互助帮困",
              "mutual_aid_inpatient": "住院互助帮困"}
BENEFITS = tuple(BENEFIT_ZH)
ISSUE_ZH = {"not_enrolled": "未参保", "not_subsidized": "未享受参保资助"}
LIST_TITLES = {  # list kind -> sheet name (Chinese, as the workers read it)
    "enrollment_gap": "资助参保",
    "candidate": "支出型贫困因病致贫",
    "dibao_uncovered": "疑似低保未覆盖",
    "unpaid": "应救未救",
    "warning": "预警关注",
    "referral_consent": "待同意转介",
}
LEVEL_RANK = {"watch": 1, "alert": 2, "severe": 3}
PRIORITY_ZH = {3: "高", 2: "中", 1: "低"}
# Feed code -> (Chinese name, the agency that sends it): the quality report names whom to call.
FEED_ZH = {
    "persons": "人员信息",
    "household_income": "家庭经济状况核对",
    "assistance_categories": "救助身份",
    "enrollment": "参保登记",
    "claims": "医保结算",
    "parameters": "城市参数",
    "charity_programs": "慈善项目",
    "fund_accounts": "医疗救助基金账户",
    "outreach_feedback": "走访反馈",
}
FEED_AGENCY_ZH = {
    "persons": "公安局（户籍人口信息）",
    "household_income": "民政局（居民家庭经济状况核对中心）",
    "assistance_categories": "民政局及各认定部门（乡村振兴、工会、残联、退役军人事务）",
    "enrollment": "医保局（参保登记系统）",
    "claims": "医保局（医保结算系统）",
    "parameters": "医保局（按统计、民政、人社部门公布的数字维护）",
    "charity_programs": "慈善总会",
    "fund_accounts": "医保局（医疗救助基金财务）",
    "outreach_feedback": "各街道（乡镇）",
}
VISIT_TYPE_ZH = {"outpatient": "门诊", "emergency": "急诊", "inpatient": "住院", "special_outpatient": "门诊慢特病"}
RELATION_ZH = {"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "other": "其他"}
EXCLUSION_ZH = {  # why a claim is not counted in a rule's burden (fct_trail_claims.exclusion_reason)
    "reversed": "已冲销（与冲销记录相抵）",
    "out_of_window": "不在计算期内",
    "out_of_city": "非本市定点医疗机构",
    "visit_type_not_counted": "就诊类型不计入此项",
    "member_not_in_category": "该成员不属此项适用的救助身份",
}
# City figures (the parameters feed) as a worker or reviewer reads them.
PARAMETER_ZH = {"city_per_capita_disposable_income": "全市居民人均可支配收入", "dibao_monthly": "低保标准（月）",
                "min_wage_monthly": "最低工资标准（月）", "basic_insurance_annual_cap": "基本医保年度封顶线",
                "mutual_aid_local_inpatient_deductible": "本市住院起付标准"}
FEEDBACK_STATUS_ZH = {  # worker feedback status -> what the workbook's dropdown shows
    "contacted": "已联系", "applied": "已申请", "approved": "已获救助", "rejected": "未获批",
    "declined": "本人拒绝", "unreachable": "联系不上",
}
FEEDBACK_STATUSES = tuple(FEEDBACK_STATUS_ZH)
CLOSING_STATUSES = ("approved",)  # feedback that takes a case off the lists
