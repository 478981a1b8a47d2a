select
    city,
    name as parameter_name,
    cast(year as integer) as parameter_year,
    cast(value as decimal(18, 2)) as parameter_value,
    source
from {{ source('policy', 'parameter_defaults') }}
