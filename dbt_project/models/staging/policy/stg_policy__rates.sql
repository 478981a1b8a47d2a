select
    policy_id, benefit, track, category,
    cast(rate as decimal(9, 4)) as rate,
    cast(hospital_level as integer) as hospital_level,
    cast(scheme as {{ dbt.type_string() }}) as scheme,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    clause,
    cast(min_yearly_base as decimal(18, 2)) as min_yearly_base,
    counted_from
from {{ source('policy', 'rates') }}
