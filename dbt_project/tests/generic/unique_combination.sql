{#- No two rows share the combination of columns. kept_by: see rows_to_check (an incremental night checks the
    combinations the night recomputed). -#}
{% test unique_combination(model, columns, kept_by=none) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ rows_to_check(model, columns, kept_by) }} as checked
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
