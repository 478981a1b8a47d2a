select
    feed,
    file,
    row_number,
    reason,
    night as landed_night
from {{ source('raw', 'quarantine') }}
