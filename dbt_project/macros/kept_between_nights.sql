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

{#- The rows of a model kept between nights (kept_by: the person_id or household_id it is recomputed by) a
    data test looks at. On an incremental night: the rows sharing their combination of columns with a row
    the night recomputed. Every other row stood in the last build, whose tests passed (a build whose tests
    fail is not recorded, so the next night recomputes its rows again), and what the night made wrong has a
    recomputed row in it. Otherwise, or on another engine: the whole model. The reference to the changed
    persons or households is taken whatever the night, so dbt knows the test reads it. -#}
{% macro rows_to_check(model, columns, kept_by) -%}
    {%- set changed = changed_since_build(kept_by) if kept_by is not none else none -%}
    {%- if changed is none or target.type != 'duckdb' or var('changed_since', none) is none -%}
    {{ return(model) }}
    {%- endif -%}
    {%- set matches = [] -%}
    {%- for column in columns -%}
    {%- do matches.append('m.' ~ column ~ ' is not distinct from r.' ~ column) -%}
    {%- endfor -%}
    {{ return('(select m.* from ' ~ model ~ ' as m inner join (select distinct ' ~ columns | join(', ')
              ~ ' from ' ~ model ~ ' where ' ~ kept_by ~ ' in (select ' ~ kept_by ~ ' from ' ~ changed ~ '))'
              ~ ' as r on ' ~ matches | join(' and ') ~ ')') }}
{%- endmacro %}
