{#- No rate exceeds 100%: expected assistance never exceeds its base, nor goes below zero. -#}
{% test expected_within_base(model) %}
select person_id, year, benefit
from {{ model }}
where expected_assistance > base_amount or expected_assistance < 0
{% endtest %}
