select
    feed,
    file,
    delivery_date,
    night as landed_night,
    rows_received,
    rows_loaded,
    rows_quarantined
from {{ source('meta', 'landed_files') }}
