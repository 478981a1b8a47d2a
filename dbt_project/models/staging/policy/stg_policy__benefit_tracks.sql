select
    policy_id, benefit, track,
    cast(track_order as integer) as track_order,
    visit_type, base_kind,
    cast(in_city_only as boolean) as in_city_only,
    cast(disease_list as {{ dbt.type_string() }}) as disease_list,
    cast(deductible_offset_by as {{ dbt.type_string() }}) as deductible_offset_by,
    clause
from {{ source('policy', 'benefit_tracks') }}
