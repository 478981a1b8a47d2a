with latest as (
    {{ latest_delivery(source('raw', 'fund_accounts'), ['year']) }}
)

select
    cast(year as integer) as fund_year,
    cast(funding as decimal(18, 2)) as funding,
    cast(spending as decimal(18, 2)) as spending,
    cast(balance as decimal(18, 2)) as balance,
    cast(as_of as date) as figures_as_of
from latest
