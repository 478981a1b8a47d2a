{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('household_id') }}"
) }}
-- depends_on: {{ ref('int_households_changed_since_build') }}
-- One row per household and calendar month with claims data: that month's amounts and signs of illness.
-- Dense (months without claims are zero) so trailing windows can count rows. Claims count in the month
-- they were settled — when the information arrived — so no month's row sees a claim settled after it;
-- a reversal counts (negatively) in its own month, not back in its original's.
with claims as (
    select
        c.*,
        p.household_id,
        c.self_pay_in_scope + c.self_pay_out_scope as personal_burden,
        c.self_pay_in_scope + c.assistance_paid as assistance_base,
        case when c.reversal_of is null then 1 else -1 end as sign,
        cast({{ dbt.date_trunc('month', 'c.settle_date') }} as date) as month_start
    from {{ ref('stg_claims') }} as c
    inner join {{ ref('int_persons_enriched') }} as p on p.person_id = c.person_id
    where c.settle_date <= {{ as_of() }}
),

months as (
    select distinct month_start from claims
),

households as (
    -- Sizes as int_household_income_as_of counts them (the members now), not counted again.
    select
        household_id,
        household_size
    from {{ ref('int_household_income_as_of') }}
    where {{ is_changed('household_id', 'household_id') }}
),

monthly as (
    select
        household_id,
        month_start,
        sum(personal_burden) as personal_burden,
        sum(assistance_base) as assistance_base,
        sum(case when visit_type = 'inpatient' then sign else 0 end) as inpatient_stays,
        sum(case when visit_type = 'special_outpatient' then sign else 0 end) as special_outpatient_claims,
        sum(case when visit_type = 'emergency' then sign else 0 end) as emergency_visits,
        max(case when substring(diagnosis_code, 1, 1) = 'C' then 1 else 0 end) as cancer,
        max(case when substring(diagnosis_code, 1, 3) = 'N18' then 1 else 0 end) as kidney_failure,
        max(case when substring(diagnosis_code, 1, 2) = 'I6' then 1 else 0 end) as stroke,
        max(case when substring(diagnosis_code, 1, 3) in ('E11', 'I10', 'J44', 'I25') then 1 else 0 end) as chronic,
        sum(case when substring(diagnosis_code, 1, 1) = 'R' then sign else 0 end) as symptom_visits,
        sum(sign) as claims
    from claims
    where {{ is_changed('household_id', 'household_id') }}
    group by household_id, month_start
)

select
    h.household_id,
    h.household_size,
    m.month_start,
    coalesce(x.personal_burden, 0) as personal_burden,
    coalesce(x.assistance_base, 0) as assistance_base,
    coalesce(x.inpatient_stays, 0) as inpatient_stays,
    coalesce(x.special_outpatient_claims, 0) as special_outpatient_claims,
    coalesce(x.emergency_visits, 0) as emergency_visits,
    coalesce(x.cancer, 0) as cancer,
    coalesce(x.kidney_failure, 0) as kidney_failure,
    coalesce(x.stroke, 0) as stroke,
    coalesce(x.chronic, 0) as chronic,
    coalesce(x.symptom_visits, 0) as symptom_visits,
    coalesce(x.claims, 0) as claims
from households as h
cross join months as m
left join monthly as x on x.household_id = h.household_id and x.month_start = m.month_start
