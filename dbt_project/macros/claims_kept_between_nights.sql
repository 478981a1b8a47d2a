{#- The per-claim models are kept between nights on DuckDB: an incremental night deletes the rows of the
    persons in int_persons_changed_since_build, then appends their recomputed rows. Delete-then-append
    rather than delete+insert by key, so a person left with no rows (an only claim reversed) loses the
    old ones. The unit is the person because yearly deductibles, caps and monthly limits run over a
    person's claims in date order. Spark (parquet tables, no delete) builds them as tables. -#}
{% macro claims_materialization() -%}
    {{ return('incremental' if target.type == 'duckdb' else 'table') }}
{%- endmacro %}

{% macro delete_changed_persons() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where person_id in (select person_id from {{ ref('int_persons_changed_since_build') }})
    {%- endif -%}
{%- endmacro %}

{#- The rows a model recomputes: on an incremental night only the changed persons', else everyone's. -#}
{% macro is_changed_person(person_column) -%}
    {%- if is_incremental() -%}
    {{ person_column }} in (select person_id from {{ ref('int_persons_changed_since_build') }})
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}
