-- The quality report's quarantine reasons: per feed, night and reason, the rows quarantined and the
-- first of them (by file and row) as the example the report shows, masked.
{{ config(materialized='view', tags=['quality_report']) }}

with ranked as (
    select
        feed,
        landed_night,
        reason,
        file,
        row_number,
        count(*) over (partition by feed, landed_night, reason) as quarantined_rows,
        row_number() over (partition by feed, landed_night, reason order by file asc, row_number asc) as row_rank
    from {{ ref('stg_quarantine') }}
)

select
    feed,
    landed_night,
    reason,
    quarantined_rows,
    file as example_file,
    row_number as example_row_number
from ranked
where row_rank = 1
