{#- The models a night changes only in part are kept between nights on DuckDB: an incremental night deletes
    the rows of the persons (int_persons_changed_since_build) or households (int_households_changed_since_build)
    with something new, then appends their recomputed rows. Delete-then-append rather than delete+insert by
    key, so a person or household left with no rows (an only claim reversed) loses the old ones. The unit is
    the person or household because yearly deductibles, caps, monthly limits and trailing windows run over
    all of its rows in date order. Spark (parquet tables, no delete) builds them as tables. -#}
{% macro kept_between_nights() -%}
    {{ return('incremental' if target.type == 'duckdb' else 'table') }}
{%- endmacro %}

{% macro changed_since_build(key) -%}
    {{ return(ref('int_persons_changed_since_build') if key == 'person_id' else ref('int_households_changed_since_build')) }}
{%- endmacro %}

{% macro delete_changed(key) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ key }} in (select {{ key }} from {{ changed_since_build(key) }})
    {%- endif -%}
{%- endmacro %}

{#- The rows a model recomputes: on an incremental night only the changed persons' or households', else all. -#}
{% macro is_changed(column, key) -%}
    {%- if is_incremental() -%}
    {{ column }} in (select {{ key }} from {{ changed_since_build(key) }})
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}
