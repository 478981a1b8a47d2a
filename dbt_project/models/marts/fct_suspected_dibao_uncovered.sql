-- The 疑似低保未覆盖 worker sheet: households whose income alone (before any medical cost) is under
-- the policy's monthly per-capita line on the as-of date, none of whose members holds a covering
-- category (低保/特困). They are not expenditure poverty (the costs did not push them under the
-- line) and so not candidates, but worth a visit: policy finds people.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

sheet as (
    select * from {{ ref('stg_policy__dibao_uncovered_sheet') }}
    where policy_id = {{ policy_id() }}
),

line as (
    select distinct
        s.line_parameter,
        s.reason_zh,
        s.clause,
        p.parameter_value as line_amount,
        p.parameter_year as line_year,
        p.carried_forward_from_year
    from sheet as s
    inner join {{ ref('int_parameters_resolved') }} as p
        on
            p.parameter_name = s.line_parameter
            and p.parameter_year = extract(year from {{ as_of() }})
),

covered_households as (
    select distinct m.household_id
    from {{ ref('stg_assistance_categories') }} as cat
    inner join sheet as s on s.covered_category = cat.category
    inner join {{ ref('int_persons_enriched') }} as m on m.person_id = cat.person_id
    where {{ as_of() }} between cat.valid_from and cat.valid_to
)

select
    i.household_id,
    i.subdistrict_code,
    i.household_size,
    i.assessed_on,
    {{ money('i.annual_disposable_income') }} as income_amount,
    {{ money('i.annual_disposable_income / i.household_size / 12') }} as monthly_per_capita_income,
    l.line_parameter,
    {{ money('l.line_amount') }} as line_amount,
    l.line_year,
    l.carried_forward_from_year,
    l.reason_zh as reason,
    l.clause
from {{ ref('int_household_income_as_of') }} as i
cross join line as l
cross join policy as pol
left join covered_households as c on c.household_id = i.household_id
where
    i.annual_disposable_income is not null
    and i.annual_disposable_income >= 0
    and i.annual_disposable_income / i.household_size / 12 < l.line_amount
    and c.household_id is null
    and {{ as_of() }} between pol.effective_from and pol.effective_to
