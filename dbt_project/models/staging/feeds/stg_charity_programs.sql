with latest as (
    {{ latest_delivery(source('raw', 'charity_programs'), ['program_id']) }}
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
