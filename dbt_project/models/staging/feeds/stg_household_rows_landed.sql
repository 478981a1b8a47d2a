-- Every landed row of the household-keyed feeds (persons name their household), reduced to whose it is
-- and when it was delivered, landed and takes effect (an assessment on its assessed_on date): what an
-- incremental night looks at to find the households whose rows must be recomputed.
select
    person_id,
    household_id,
    _delivery_date as delivered_on,
    _night as landed_on,
    cast(null as date) as effective_on,
    'persons' as feed
from {{ source('raw', 'persons') }}
union all
select
    cast(null as {{ dbt.type_string() }}),
    household_id,
    _delivery_date,
    _night,
    cast(assessed_on as date),
    'household_income'
from {{ source('raw', 'household_income') }}
