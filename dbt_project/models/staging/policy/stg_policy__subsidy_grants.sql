select
    policy_id,
    category,
    subsidy,
    cast(min_age as integer) as min_age,
    scheme,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    clause
from {{ source('policy', 'subsidy_grants') }}
