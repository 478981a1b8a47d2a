with latest as (
    {{ latest_delivery(source('raw', 'persons'), ['person_id']) }}
)

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
    address
from latest
