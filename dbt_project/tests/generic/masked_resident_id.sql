{#- A column a person reads holds resident IDs only masked: 18 characters, 8 stars in the middle. -#}
{% test masked_resident_id(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and ({{ dbt.length(column_name) }} <> 18 or substring({{ column_name }}, 7, 8) <> '********')
{% endtest %}
