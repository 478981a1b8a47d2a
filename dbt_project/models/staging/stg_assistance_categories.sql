with source as (
    select * from {{ source('raw', 'assistance_categories') }}
    where _delivery_date <= {{ as_of() }}
),

latest as (
    -- A later delivery of the same identity (same person, category and start) replaces it, e.g. when it ends.
    select *,
        row_number() over (partition by person_id, category, valid_from order by _delivery_date desc, _file desc, _row_number desc) as delivery_rank
    from source
)

select
    person_id,
    category,
    cast(valid_from as date) as valid_from,
    cast(coalesce(valid_to, {{ far_future() }}) as date) as valid_to,
    source as identified_by,
    dibao_class,
    cast(disability_grade as integer) as disability_grade
from latest
where delivery_rank = 1
