-- The trail of each identification rule's test: every figure int_rule_measures set against the
-- thresholds, the clause of each, the city figures used and where they came from, and whether the
-- household (or member) is on the candidates mart.
with measures as (
    select * from {{ ref('int_rule_measures') }}
),

rules as (
    select * from {{ ref('int_rule_windows') }}
),

parameters as (
    select * from {{ ref('int_parameters_resolved') }}
)

select
    m.rule,
    m.household_id,
    m.person_id,
    m.subdistrict_code,
    m.kind,
    r.window_start,
    r.window_end,
    m.household_size,
    m.assessed_on,
    m.annual_disposable_income,
    m.members_without_fixed_income,
    r.impute_parameter,
    m.imputed_monthly_income,
    impute.source as impute_source,
    impute.carried_forward_from_year as impute_carried_forward_from_year,
    m.income_amount - m.annual_disposable_income as imputed_income,
    m.income_amount,
    m.burden_amount,
    m.burden_ratio,
    m.threshold,
    m.comparison,
    m.threshold * m.income_amount as threshold_amount,
    m.per_capita_income,
    m.per_capita_income / 12 as monthly_per_capita_income,
    r.line_parameter,
    m.line_year,
    m.line_period,
    m.catastrophic_line_applies,
    m.income_line,
    line.source as line_source,
    line.carried_forward_from_year as line_carried_forward_from_year,
    r.residual_line_parameter,
    m.residual_line,
    residual.source as residual_line_source,
    residual.carried_forward_from_year as residual_line_carried_forward_from_year,
    (m.income_amount - m.burden_amount) / m.household_size / 12 as residual_monthly_per_capita,
    m.assets_test,
    m.assets_within_limit,
    m.meets_threshold,
    m.meets_income_line,
    m.meets_assets_test,
    c.household_id is not null as is_candidate,
    m.reason_zh,
    r.threshold_clause,
    r.window_clause,
    r.line_clause,
    r.residual_line_clause,
    r.impute_clause,
    r.assets_clause
from measures as m
inner join rules as r on r.rule = m.rule
left join parameters as line
    on line.parameter_name = r.line_parameter and line.parameter_year = m.line_year
left join parameters as impute
    on
        impute.parameter_name = r.impute_parameter
        and impute.parameter_year = extract(year from {{ as_of() }})
left join parameters as residual
    on
        residual.parameter_name = r.residual_line_parameter
        and residual.parameter_year = extract(year from {{ as_of() }})
left join {{ ref('fct_candidates') }} as c
    on
        c.household_id = m.household_id and c.rule = m.rule
        and coalesce(c.person_id, '') = coalesce(m.person_id, '')
