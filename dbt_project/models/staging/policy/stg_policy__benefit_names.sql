select
    benefit,
    name_zh as benefit_name_zh
from {{ source('policy', 'benefit_names') }}
