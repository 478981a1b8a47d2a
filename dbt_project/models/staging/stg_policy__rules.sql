select
    policy_id, rule, kind,
    window_kind,
    amount_kind,
    cast(in_city_only as boolean) as in_city_only,
    cast(threshold as decimal(18, 4)) as threshold,
    comparison,
    cast(impute_parameter as varchar) as impute_parameter,
    cast(residual_line_parameter as varchar) as residual_line_parameter,
    cast(line_parameter as varchar) as line_parameter,
    cast(line_year_offset as integer) as line_year_offset,
    line_period,
    cast(line_multiplier_catastrophic as decimal(9, 4)) as line_multiplier_catastrophic,
    cast(line_catastrophic_list as varchar) as line_catastrophic_list,
    cast(assets_test as boolean) as assets_test,
    reason_zh,
    threshold_clause
from {{ source('policy', 'rules') }}
