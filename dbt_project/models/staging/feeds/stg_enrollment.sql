-- Every delivery of a person's enrollment in a year, typed (the latest one per person and year is
-- int_enrollment_by_year).
select
    person_id,
    cast(year as integer) as enrollment_year,
    scheme,
    cast(enrolled_from as date) as enrolled_from,
    cast(enrolled_to as date) as enrolled_to,
    coalesce(premium_subsidy, 'none') as premium_subsidy,
    _delivery_date as delivered_on,
    _file as source_file,
    _row_number as source_row
from {{ source('raw', 'enrollment') }}
where _delivery_date <= {{ as_of() }}
