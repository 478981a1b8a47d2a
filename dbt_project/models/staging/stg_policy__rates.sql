select
    policy_id, benefit, track, category,
    cast(rate as double) as rate,
    cast(hospital_level as integer) as hospital_level,
    cast(scheme as varchar) as scheme,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    clause
from {{ source('policy', 'rates') }}
