select
    policy_id,
    city,
    document,
    cast(effective_from as date) as effective_from,
    cast(effective_to as date) as effective_to,
    effective_clause,
    warning_window,
    warning_amount,
    warning_clause,
    cast(new_member_grace_months as integer) as new_member_grace_months,
    cast(paid_before_subsidized_next_year as boolean) as paid_before_subsidized_next_year
from {{ source('policy', 'policies') }}
