-- Every landed row of the person-keyed feeds, reduced to whose it is and when it was delivered and
-- landed: what an incremental night looks at to find the persons whose claims must be recomputed.
select
    person_id,
    reversal_of,
    _delivery_date as delivered_on,
    _night as landed_on,
    'claims' as feed
from {{ source('raw', 'claims') }}
union all
select person_id, cast(null as {{ dbt.type_string() }}), _delivery_date, _night, 'persons'
from {{ source('raw', 'persons') }}
union all
select person_id, cast(null as {{ dbt.type_string() }}), _delivery_date, _night, 'enrollment'
from {{ source('raw', 'enrollment') }}
union all
select person_id, cast(null as {{ dbt.type_string() }}), _delivery_date, _night, 'assistance_categories'
from {{ source('raw', 'assistance_categories') }}
