select
    policy_id, benefit,
    cast(item_no as integer) as item_no,
    category,
    cast(amount as decimal(18, 2)) as amount,
    cast(dibao_class as {{ dbt.type_string() }}) as dibao_class,
    cast(min_age_male as integer) as min_age_male,
    cast(min_age_female as integer) as min_age_female,
    cast(max_disability_grade as integer) as max_disability_grade,
    cast(judged_on_month_day as {{ dbt.type_string() }}) as judged_on_month_day,
    cast(against_visit_types as {{ dbt.type_string() }}) as against_visit_types,
    label_zh,
    cast(valid_from as date) as valid_from,
    cast(valid_to as date) as valid_to,
    clause,
    cast(subsidized_enrollment_only as boolean) as subsidized_enrollment_only
from {{ source('policy', 'cash_items') }}
