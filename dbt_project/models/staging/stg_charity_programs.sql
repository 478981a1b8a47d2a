with source as (
    select * from {{ source('raw', 'charity_programs') }}
    where _delivery_date <= {{ as_of() }}
),

latest as (
    select *,
        row_number() over (partition by program_id order by _delivery_date desc, _file desc, _row_number desc) as delivery_rank
    from source
)

select
    program_id,
    name as program_name,
    coalesce(diagnosis_prefixes, '') as diagnosis_prefixes,
    cast(min_age as integer) as min_age,
    cast(max_age as integer) as max_age,
    cast(max_amount as decimal(18, 2)) as max_amount,
    cast(capacity as integer) as capacity
from latest
where delivery_rank = 1
