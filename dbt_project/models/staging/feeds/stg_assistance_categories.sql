-- A later delivery of the same identity (same person, category and start) replaces it, e.g. when it ends.
with latest as (
    {{ latest_delivery(source('raw', 'assistance_categories'), ['person_id', 'category', 'valid_from']) }}
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
