select
    measure,
    label_zh,
    kind,
    cast(threshold as decimal(9, 4)) as threshold,
    comparison,
    subsistence_parameter,
    line_parameter,
    cast(line_year_offset as integer) as line_year_offset,
    source
from {{ source('policy', 'hardship_measures') }}
