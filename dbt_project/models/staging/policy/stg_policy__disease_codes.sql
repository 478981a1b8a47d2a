select
    policy_id,
    disease_list,
    prefix,
    name_zh,
    cast(covers_outpatient as boolean) as covers_outpatient,
    cast(max_age as integer) as max_age,
    clause
from {{ source('policy', 'disease_codes') }}
