with source as (
    select * from {{ source('raw', 'parameters') }}
    where _delivery_date <= {{ as_of() }}
),

latest as (
    select *,
        row_number() over (partition by name, year order by _delivery_date desc, _file desc, _row_number desc) as delivery_rank
    from source
)

select
    name as parameter_name,
    cast(year as integer) as parameter_year,
    cast(value as decimal(18, 2)) as parameter_value
from latest
where delivery_rank = 1
