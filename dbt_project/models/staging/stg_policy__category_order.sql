select policy_id, category, cast(category_rank as integer) as category_rank, clause
from {{ source('policy', 'category_order') }}
