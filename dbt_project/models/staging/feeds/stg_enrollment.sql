with latest as (
    {{ latest_delivery(source('raw', 'enrollment'), ['person_id', 'year']) }}
)

select
    person_id,
    cast(year as integer) as enrollment_year,
    scheme,
    cast(enrolled_from as date) as enrolled_from,
    cast(enrolled_to as date) as enrolled_to,
    coalesce(premium_subsidy, 'none') as premium_subsidy
from latest
