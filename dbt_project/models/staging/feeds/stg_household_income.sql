with latest as (
    {{ latest_delivery(source('raw', 'household_income'), ['household_id', 'assessed_on']) }}
)

select
    household_id,
    cast(assessed_on as date) as assessed_on,
    cast(annual_disposable_income as decimal(18, 2)) as annual_disposable_income,
    cast(coalesce(members_without_fixed_income, 0) as integer) as members_without_fixed_income,
    coalesce(assets_within_limit, true) as assets_within_limit
from latest
