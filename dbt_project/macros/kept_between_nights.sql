{#- The models a night changes only in part are kept between nights on DuckDB: an incremental night deletes
    the rows of the persons (int_persons_changed_since_build) or households (int_households_changed_since_build)
    with something new, then appends their recomputed rows (int_claims_netted, a row per claim, recomputes only
    the persons delivered again and appends the others' new claims; see delete_claims_to_recompute).
    Delete-then-append rather than delete+insert by key, so a person or household left with no rows (an only
    claim reversed) loses the old ones. The unit is the person or household because yearly deductibles, caps,
    monthly limits and trailing windows run over all of its rows in date order. Spark (parquet tables, no
    delete) builds them as tables. -#}
{% macro kept_between_nights() -%}
    {{ return('incremental' if target.type == 'duckdb' else 'table') }}
{%- endmacro %}

{#- The keys a model recomputes on an incremental night: the persons or households with anything new; or, for a
    model read from the person and enrollment feeds alone, the persons delivered again. -#}
{% macro changed_since_build(key, delivered_again=false) -%}
    {%- if delivered_again -%}
    {{ return(ref('int_persons_redelivered_since_build')) }}
    {%- endif -%}
    {{ return(ref('int_persons_changed_since_build') if key == 'person_id' else ref('int_households_changed_since_build')) }}
{%- endmacro %}

{% macro delete_changed(key, delivered_again=false) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ key }} in (select {{ key }} from {{ changed_since_build(key, delivered_again) }})
    {%- endif -%}
{%- endmacro %}

{#- int_claims_netted's delete on an incremental night: the rows of persons delivered again (recomputed whole)
    and of every claim reversed (a reversed claim's row can only be one the last build held before its
    reversal came). Without changed_since every row: the night recomputes every person. -#}
{% macro delete_claims_to_recompute() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    {%- if var('changed_since', none) is not none %}
    where
        person_id in (select person_id from {{ changed_since_build('person_id', delivered_again=true) }})
        or claim_id in (select reversal_of from {{ ref('stg_claims') }} where reversal_of is not null)
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The rows a model recomputes: on an incremental night only the changed persons' or households', else all. -#}
{% macro is_changed(column, key, delivered_again=false) -%}
    {%- if is_incremental() -%}
    {{ column }} in (select {{ key }} from {{ changed_since_build(key, delivered_again) }})
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
