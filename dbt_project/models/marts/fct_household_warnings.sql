-- The early-warning list: every household whose burden ratio reaches one of the policy's
-- warning levels (watch, alert, severe), at its highest level.
with levels as (
    select * from {{ ref('stg_policy__warning_levels') }}
    where policy_id = {{ policy_id() }}
),

reached as (
    select
        b.*,
        l.warning_level,
        l.label_zh as warning_label,
        l.ratio as level_ratio,
        row_number() over (partition by b.household_id order by l.ratio desc) as height
    from {{ ref('int_household_burden') }} as b
    inner join levels as l on b.burden_ratio >= l.ratio
)

select
    household_id,
    subdistrict_code,
    household_size,
    {{ money('burden_amount') }} as burden_amount,
    {{ money('income_amount') }} as income_amount,
    cast({{ round_double('burden_ratio', 4) }} as decimal(10, 4)) as burden_ratio,
    warning_level,
    warning_label,
    level_ratio,
    inpatient_claims
from reached
where height = 1
