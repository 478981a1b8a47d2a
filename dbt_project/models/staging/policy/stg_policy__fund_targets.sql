select
    policy_id,
    target,
    kind,
    label_zh,
    cast(minimum as decimal(9, 4)) as minimum,
    cast(maximum as decimal(9, 4)) as maximum,
    disease_list,
    clause
from {{ source('policy', 'fund_targets') }}
