select
    category,
    name_zh as category_name_zh
from {{ source('policy', 'category_names') }}
