select
    case_id,
    status as feedback_status,
    cast(updated_at as date) as updated_at,
    consent_to_charity,
    note,
    subdistrict_code as returned_by_subdistrict,
    _file as source_file,
    _row_number as source_row
from {{ source('raw', 'outreach_feedback') }}
where _delivery_date <= {{ as_of() }}
