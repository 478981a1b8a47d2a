{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('household_id') }}"
) }}
-- depends_on: {{ ref('int_households_changed_since_build') }}
-- Every identification rule of the policy measured for every household (or member, for
-- member rules) with claims in the rule's window: the burden, the income it is set against
-- (with imputed income for members without fixed income where the rule says so), the
-- per-capita income line, and whether each test passes. A household with no income can meet a
-- ratio rule (any burden is at least a share of 0) but has no burden_ratio. Kept between nights by
-- household: a household's measures change only with its own rows (the windows turn with the month,
-- and the first night of a month is a full build), so no column here may move with the as-of day
-- (the trail reads each rule's window from int_rule_windows).
with claims as (
    -- The changed households' claims, taken before the rule windows multiply them.
    select
        household_id,
        person_id,
        claim_id,
        claim_date,
        visit_type,
        in_city,
        personal_burden,
        assistance_base
    from {{ ref('int_claims_netted') }}
    where {{ is_changed('household_id', 'household_id') }}
),

rules as (
    select * from {{ ref('int_rule_windows') }}
),

parameters as (
    select * from {{ ref('int_parameters_resolved') }}
),

rule_claims as (
    select
        r.rule,
        c.household_id,
        c.person_id,
        c.claim_id,
        case r.amount_kind when 'personal_burden' then c.personal_burden else c.assistance_base end as amount
    from rules as r
    inner join claims as c
        on
            c.claim_date between r.window_start and r.window_end
            and (not r.in_city_only or c.in_city)
    inner join {{ ref('stg_policy__rule_visit_types') }} as v
        on v.policy_id = r.policy_id and v.rule = r.rule and v.visit_type = c.visit_type
),

catastrophic_households as (
    select distinct
        r.rule,
        c.household_id
    from rules as r
    inner join claims as c on c.claim_date between r.window_start and r.window_end
    inner join {{ ref('int_claim_diseases') }} as d
        on d.claim_id = c.claim_id and d.disease_list = r.line_catastrophic_list
),

members as (
    select * from {{ ref('int_rule_member_persons') }}
),

units as (
    -- Household rules sum the whole household; member rules sum each qualifying member.
    select
        c.rule,
        c.household_id,
        case when r.kind = 'member_amount' then c.person_id end as person_id,
        sum(c.amount) as burden_amount
    from rule_claims as c
    inner join rules as r on r.rule = c.rule
    left join members as m on m.rule = c.rule and m.person_id = c.person_id
    where r.kind <> 'member_amount' or m.person_id is not null
    group by c.rule, c.household_id, case when r.kind = 'member_amount' then c.person_id end
),

measured as (
    select
        u.rule,
        u.household_id,
        u.person_id,
        r.kind,
        r.threshold,
        r.comparison,
        r.assets_test,
        r.line_period,
        r.reason_zh,
        u.burden_amount,
        i.household_size,
        i.subdistrict_code,
        i.assets_within_limit,
        i.assessed_on,
        i.members_without_fixed_income,
        imp.parameter_value as imputed_monthly_income,
        cast(extract(year from {{ as_of() }}) + r.line_year_offset as integer) as line_year,
        ch.household_id is not null as catastrophic_line_applies,
        i.annual_disposable_income,
        i.annual_disposable_income
        + coalesce(i.members_without_fixed_income * 12 * imp.parameter_value, 0) as income_amount,
        line.parameter_value
        * case when ch.household_id is not null then r.line_multiplier_catastrophic else 1 end as income_line,
        r.line_parameter is not null and line.parameter_value is null as line_missing,
        r.impute_parameter is not null and imp.parameter_value is null
        and coalesce(i.members_without_fixed_income, 0) > 0 as impute_missing,
        residual.parameter_value as residual_line,
        r.residual_line_parameter is not null and residual.parameter_value is null as residual_line_missing
    from units as u
    inner join rules as r on r.rule = u.rule
    inner join {{ ref('int_household_income_as_of') }} as i on i.household_id = u.household_id
    left join parameters as imp
        on imp.parameter_name = r.impute_parameter and imp.parameter_year = extract(year from {{ as_of() }})
    left join parameters as line
        on
            line.parameter_name = r.line_parameter
            and line.parameter_year = extract(year from {{ as_of() }}) + r.line_year_offset
    left join parameters as residual
        on
            residual.parameter_name = r.residual_line_parameter
            and residual.parameter_year = extract(year from {{ as_of() }})
    left join catastrophic_households as ch on ch.rule = u.rule and ch.household_id = u.household_id
)

select
    m.*,
    {{ divide('m.income_amount', 'm.household_size') }} as per_capita_income,
    case when m.income_amount > 0 then {{ divide('m.burden_amount', 'm.income_amount') }} end as burden_ratio,
    {{ rule_tests('m') }}
from measured as m
