-- Each household's medical burden against its income, measured as the policy's warning settings
-- say (window and amount), for the early-warning levels.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

bounds as (
    select
        p.warning_amount,
        {{ window_start('p.warning_window') }} as window_start,
        {{ window_end('p.warning_window') }} as window_end
    from policy as p
),

burden as (
    select
        c.household_id,
        sum(case b.warning_amount when 'personal_burden' then c.personal_burden else c.assistance_base end) as burden_amount,
        sum(case when c.visit_type = 'inpatient' then 1 else 0 end) as inpatient_claims,
        count(*) as claims
    from {{ ref('int_claims_netted') }} as c
    inner join bounds as b on c.claim_date between b.window_start and b.window_end
    group by c.household_id
)

select
    b.household_id,
    i.subdistrict_code,
    i.household_size,
    b.burden_amount,
    b.inpatient_claims,
    b.claims,
    i.annual_disposable_income as income_amount,
    case when i.annual_disposable_income > 0 then {{ divide('b.burden_amount', 'i.annual_disposable_income') }} end as burden_ratio
from burden as b
inner join {{ ref('int_household_income_as_of') }} as i on i.household_id = b.household_id
