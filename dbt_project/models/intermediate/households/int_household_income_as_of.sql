-- Each household's latest economic assessment on or before the as-of date.
with households as (
    select
        household_id,
        count(*) as household_size,
        min(subdistrict_code) as subdistrict_code
    from {{ ref('int_persons_enriched') }}
    group by household_id
),

assessments as (
    select
        i.*,
        row_number() over (partition by i.household_id order by i.assessed_on desc) as recency
    from {{ ref('stg_household_income') }} as i
    where i.assessed_on <= {{ as_of() }}
)

select
    h.household_id,
    h.household_size,
    h.subdistrict_code,
    a.assessed_on,
    a.annual_disposable_income,
    a.members_without_fixed_income,
    a.assets_within_limit
from households as h
left join assessments as a
    on a.household_id = h.household_id and a.recency = 1
