select
    policy_id, cap_id, benefit,
    cast(benefit_position as integer) as benefit_position,
    cast(track as {{ dbt.type_string() }}) as track,
    cast(category as {{ dbt.type_string() }}) as category,
    applies_to,
    cast(value as decimal(18, 2)) as fixed_value,
    cast(parameter as {{ dbt.type_string() }}) as parameter_name,
    cast(multiplier as decimal(9, 4)) as multiplier,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    clause
from {{ source('policy', 'combined_caps') }}
