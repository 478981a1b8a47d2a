select
    policy_id,
    level as warning_level,
    cast(ratio as decimal(9, 4)) as ratio,
    label_zh,
    clause
from {{ source('policy', 'warning_levels') }}
