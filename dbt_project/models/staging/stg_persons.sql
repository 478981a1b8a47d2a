with source as (
    select * from {{ source('raw', 'persons') }}
    where _delivery_date <= {{ as_of() }}
),

latest as (
    select *,
        row_number() over (partition by person_id order by _delivery_date desc, _file desc, _row_number desc) as delivery_rank
    from source
)

select
    cast(person_id as varchar) as person_id,
    name as person_name,
    sex,
    cast(birth_date as date) as birth_date,
    household_id,
    relation,
    coalesce(district_code, substring(person_id, 1, 6)) as district_code,
    subdistrict_code,
    subdistrict_name,
    phone
from latest
where delivery_rank = 1
