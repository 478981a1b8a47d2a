with latest as (
    {{ latest_delivery(source('raw', 'parameters'), ['name', 'year']) }}
)

select
    name as parameter_name,
    cast(year as integer) as parameter_year,
    cast(value as decimal(18, 2)) as parameter_value
from latest
