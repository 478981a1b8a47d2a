{#- Run at the start of every dbt run: bound the engine's memory and give it a spill folder (settings). -#}
{% macro set_engine_limits() -%}
    {{ return(adapter.dispatch('set_engine_limits')()) }}
{%- endmacro %}

{% macro default__set_engine_limits() -%}
    {#- Spark and other engines take their memory from their own cluster configuration. -#}
    select 1
{%- endmacro %}

{#- A checkpoint writes every changed block to the database file; by default one follows any commit
    once the log passes 16 MB, so a night of models would write the file over and over. Once per run
    (when dbt closes the database) is enough: the log is replayed if the run is cut short. -#}
{% macro duckdb__set_engine_limits() -%}
    set checkpoint_threshold = '{{ var("duckdb_checkpoint_threshold", "8GB") }}';
    {%- if var('duckdb_memory_limit', none) %}
    set memory_limit = '{{ var("duckdb_memory_limit") }}';
    set temp_directory = '{{ var("duckdb_temp_directory") }}';
    {%- endif -%}
{%- endmacro %}

{#- Around a model that joins a table to every claim in the lake (a pre-hook with true, a post-hook with
    false): DuckDB estimates a filtered lake scan at a fraction of its rows, and would build the join's
    hash table on millions of wide claims (hash tables do not spill) rather than on the table joined to
    them. The joins keep their sides as written: the right-hand table is hashed. Other engines: nothing. -#}
{% macro joins_as_written(on) -%}
    {%- if target.type == 'duckdb' -%}
    {{ return("set disabled_optimizers = 'build_side_probe_side'" if on else "reset disabled_optimizers") }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}

{#- Around a model that looks a night's few keys up among every claim in the lake (a pre-hook with true, a
    post-hook with false): DuckDB passes a join's keys on to the Parquet scan as a filter only up to 50 of them
    by default; with the filter the scan skips the row groups that hold none of them and reads the other
    columns only where one matched. Up to 10,000 keys (var duckdb_scan_filter_keys): a night brings about
    230 reversals per million residents. Other engines: nothing. -#}
{% macro join_keys_into_scans(on) -%}
    {%- if target.type == 'duckdb' -%}
    {{ return("set dynamic_or_filter_threshold = " ~ var("duckdb_scan_filter_keys", 10000) if on
              else "reset dynamic_or_filter_threshold") }}
    {%- endif -%}
    {{ return('') }}
{%- endmacro %}
