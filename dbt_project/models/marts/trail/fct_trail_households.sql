-- The trail's head for each household: its size, the income assessment in use on the as-of date and
-- the early-warning measure (int_household_burden) with the level reached (fct_household_warnings)
-- and the clauses of both.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
)

select
    i.household_id,
    i.subdistrict_code,
    i.household_size,
    i.assessed_on,
    i.annual_disposable_income,
    i.members_without_fixed_income,
    i.assets_within_limit,
    p.warning_window,
    {{ window_start('p.warning_window') }} as warning_window_start,
    {{ window_end('p.warning_window') }} as warning_window_end,
    p.warning_amount,
    p.warning_clause,
    b.burden_amount as warning_burden_amount,
    b.claims as warning_claims,
    b.burden_ratio as warning_burden_ratio,
    w.warning_level,
    w.warning_label,
    w.level_ratio as warning_level_ratio,
    l.clause as warning_level_clause
from {{ ref('int_household_income_as_of') }} as i
cross join policy as p
left join {{ ref('int_household_burden') }} as b on b.household_id = i.household_id
left join {{ ref('fct_household_warnings') }} as w on w.household_id = i.household_id
left join {{ ref('stg_policy__warning_levels') }} as l
    on l.policy_id = p.policy_id and l.warning_level = w.warning_level
