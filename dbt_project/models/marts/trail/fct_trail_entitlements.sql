{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id') }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- The trail of each entitlement: one row per claim and benefit, with the categories the person held
-- on the claim's date, the one applied (就高不重复) and its rate, the day's deductible, daily cap and
-- monthly limit (int_assistance_days), and the track-year's caps and final amount
-- (int_entitlement_tracks, repeated on each claim of the track-year). Each figure with its clause.
-- Every row is one person's, from their own kept rows: a night recomputes the changed persons only.
with claim_benefits as (
    select * from {{ ref('int_claim_benefits') }}
    where {{ is_changed('person_id', 'person_id') }}
),

held as (
    -- Every category the person held on the claim's date, in the pack's order (none outside the pack).
    select
        b.claim_id,
        b.benefit,
        {{ dbt.listagg('cat.category', "','", 'order by co.category_rank') }} as categories_held
    from claim_benefits as b
    inner join {{ ref('stg_assistance_categories') }} as cat
        on cat.person_id = b.person_id and b.claim_date between cat.valid_from and cat.valid_to
    inner join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category = cat.category
    group by b.claim_id, b.benefit
),

tracks as (
    select * from {{ ref('stg_policy__benefit_tracks') }}
    where policy_id = {{ policy_id() }}
),

category_order_clause as (
    select max(clause) as clause from {{ ref('stg_policy__category_order') }}
    where policy_id = {{ policy_id() }}
)

select
    b.claim_id,
    b.person_id,
    b.household_id,
    b.claim_date,
    b.claim_year,
    b.visit_type,
    b.benefit,
    b.track,
    t.clause as benefit_clause,
    b.base_amount,
    b.assistance_paid,
    h.categories_held,
    b.is_covered,
    b.category,
    o.clause as category_order_clause,
    b.rate,
    b.rate_clause,
    d.deductible,
    d.deductible_offset,
    d.deductible_clause,
    d.assessable_base as day_assessable_base,
    d.raw_assistance as day_raw_assistance,
    d.daily_cap,
    d.daily_cap_clause,
    d.daily_cap_binding,
    d.monthly_days_limit,
    d.monthly_days_clause,
    d.day_in_month,
    d.monthly_limit_binding,
    d.assisted_amount as day_assisted_amount,
    d.claims as day_claims,
    y.assisted_amount as year_assisted_amount,
    y.annual_cap as year_annual_cap,
    y.annual_cap_clause as year_annual_cap_clause,
    y.annual_cap_binding as year_annual_cap_binding,
    y.combined_cap as year_combined_cap,
    y.combined_clause as year_combined_cap_clause,
    y.combined_cap_binding as year_combined_cap_binding,
    y.final_amount as year_final_amount
from claim_benefits as b
cross join category_order_clause as o
left join tracks as t on t.benefit = b.benefit and t.track = b.track and t.visit_type = b.visit_type
left join held as h on h.claim_id = b.claim_id and h.benefit = b.benefit
left join {{ ref('int_assistance_days') }} as d
    on
        b.is_covered
        and d.person_id = b.person_id and d.claim_year = b.claim_year and d.benefit = b.benefit
        and d.track = b.track and d.category = b.category and d.claim_date = b.claim_date
left join {{ ref('int_entitlement_tracks') }} as y
    on
        b.is_covered
        and y.person_id = b.person_id and y.claim_year = b.claim_year and y.benefit = b.benefit and y.track = b.track
