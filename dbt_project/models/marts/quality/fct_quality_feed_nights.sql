-- The quality report's feed table and month view: per feed and night, the files landed and their rows.
-- A view, so the report drawn after ingest (before the night's dbt build) sees tonight's files.
{{ config(materialized='view', tags=['quality_report']) }}

select
    feed,
    landed_night,
    count(*) as files,
    cast(sum(rows_received) as bigint) as rows_received,
    cast(sum(rows_loaded) as bigint) as rows_loaded,
    cast(sum(rows_quarantined) as bigint) as rows_quarantined,
    max(delivery_date) as latest_delivery_date
from {{ ref('stg_meta__landed_files') }}
group by feed, landed_night
