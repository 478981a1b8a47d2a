-- The quality report's deliveries: per feed and delivery date, the rows loaded (on whichever night
-- they landed) and the last night a file of that delivery landed. A daily feed has arrived for a
-- night when its delivery dated that night has landed by then; the claims chart counts rows per day.
{{ config(materialized='view', tags=['quality_report']) }}

select
    feed,
    delivery_date,
    cast(sum(rows_loaded) as bigint) as rows_loaded,
    max(landed_night) as last_landed_night
from {{ ref('stg_meta__landed_files') }}
group by feed, delivery_date
