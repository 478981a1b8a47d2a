-- candidates.csv: households (or, for member rules, a household's member) meeting one of the
-- policy's identification rules on the as-of date.
select
    household_id,
    rule,
    {{ money('burden_amount') }} as burden_amount,
    {{ money('income_amount') }} as income_amount,
    cast({{ round_double('burden_ratio', 4) }} as decimal(10, 4)) as burden_ratio,
    cast({{ round_double('per_capita_income', 2) }} as decimal(18, 2)) as per_capita_income,
    reason_zh as reason,
    person_id,
    household_size,
    subdistrict_code
from {{ ref('int_rule_measures') }}
where meets_threshold and meets_income_line and meets_assets_test
