-- Every delivery of a resident's record, typed (the latest one per person is int_persons_enriched).
select
    cast(person_id as {{ dbt.type_string() }}) as person_id,
    name as person_name,
    sex,
    cast(birth_date as date) as birth_date,
    household_id,
    relation,
    coalesce(district_code, substring(person_id, 1, 6)) as district_code,
    subdistrict_code,
    subdistrict_name,
    phone,
    community_name,
    address,
    _delivery_date as delivered_on,
    _file as source_file,
    _row_number as source_row
from {{ source('raw', 'persons') }}
where _delivery_date <= {{ as_of() }}
