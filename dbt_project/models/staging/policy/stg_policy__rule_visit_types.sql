select
    policy_id,
    rule,
    visit_type
from {{ source('policy', 'rule_visit_types') }}
