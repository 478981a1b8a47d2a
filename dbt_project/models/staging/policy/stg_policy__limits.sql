select
    policy_id, benefit, track, kind,
    cast(category as {{ dbt.type_string() }}) as category,
    applies_to,
    cast(scheme as {{ dbt.type_string() }}) as scheme,
    cast(value as decimal(18, 2)) as fixed_value,
    cast(parameter as {{ dbt.type_string() }}) as parameter_name,
    cast(multiplier as decimal(9, 4)) as multiplier,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    clause,
    counts
from {{ source('policy', 'limits') }}
