with source as (
    select * from {{ source('raw', 'household_income') }}
    where _delivery_date <= {{ as_of() }}
),

latest as (
    select *,
        row_number() over (partition by household_id, assessed_on order by _delivery_date desc, _file desc, _row_number desc) as delivery_rank
    from source
)

select
    household_id,
    cast(assessed_on as date) as assessed_on,
    cast(annual_disposable_income as decimal(18, 2)) as annual_disposable_income,
    cast(coalesce(members_without_fixed_income, 0) as integer) as members_without_fixed_income,
    coalesce(assets_within_limit, true) as assets_within_limit
from latest
where delivery_rank = 1
