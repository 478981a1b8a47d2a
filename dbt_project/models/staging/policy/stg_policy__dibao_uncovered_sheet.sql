select
    policy_id,
    line_parameter,
    covered_category,
    reason_zh,
    clause
from {{ source('policy', 'dibao_uncovered_sheet') }}
