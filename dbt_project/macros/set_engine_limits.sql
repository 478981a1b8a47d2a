{#- Run at the start of every dbt run: bound the engine's memory and give it a spill folder (settings). -#}
{% macro set_engine_limits() -%}
    {{ return(adapter.dispatch('set_engine_limits')()) }}
{%- endmacro %}

{% macro default__set_engine_limits() -%}
    {#- Spark and other engines take their memory from their own cluster configuration. -#}
    select 1
{%- endmacro %}

{% macro duckdb__set_engine_limits() -%}
    {%- if var('duckdb_memory_limit', none) -%}
    set memory_limit = '{{ var("duckdb_memory_limit") }}';
    set temp_directory = '{{ var("duckdb_temp_directory") }}';
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
