with source as (
    select * from {{ source('raw', 'enrollment') }}
    where _delivery_date <= {{ as_of() }}
),

latest as (
    select *,
        row_number() over (partition by person_id, year order by _delivery_date desc, _file desc, _row_number desc) as delivery_rank
    from source
)

select
    person_id,
    cast(year as integer) as enrollment_year,
    scheme,
    cast(enrolled_from as date) as enrolled_from,
    cast(enrolled_to as date) as enrolled_to,
    coalesce(premium_subsidy, 'none') as premium_subsidy
from latest
where delivery_rank = 1
