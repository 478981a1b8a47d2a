select
    rule,
    name_zh as rule_name_zh
from {{ source('policy', 'rule_names') }}
