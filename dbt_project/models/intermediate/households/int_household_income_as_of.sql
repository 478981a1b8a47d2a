{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('household_id') }}"
) }}
-- depends_on: {{ ref('int_households_changed_since_build') }}
-- Each household's latest economic assessment on or before the as-of date, with its size and
-- sub-district now. Kept between nights by household: a member delivered again (a move changes both
-- households) or an assessment delivered, or taking effect, since makes the household work out again.
with households as (
    select
        household_id,
        count(*) as household_size,
        min(subdistrict_code) as subdistrict_code
    from {{ ref('int_persons_enriched') }}
    where {{ is_changed('household_id', 'household_id') }}
    group by household_id
),

assessments as (
    select
        i.*,
        row_number() over (partition by i.household_id order by i.assessed_on desc) as recency
    from {{ ref('stg_household_income') }} as i
    where i.assessed_on <= {{ as_of() }} and {{ is_changed('i.household_id', 'household_id') }}
)

select
    h.household_id,
    h.household_size,
    h.subdistrict_code,
    a.assessed_on,
    a.annual_disposable_income,
    a.members_without_fixed_income,
    a.assets_within_limit
from households as h
left join assessments as a
    on a.household_id = h.household_id and a.recency = 1
