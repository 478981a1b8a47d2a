select
    policy_id,
    category,
    cast(category_rank as integer) as category_rank,
    clause,
    cast(outside_basic_insurance as boolean) as outside_basic_insurance
from {{ source('policy', 'category_order') }}
