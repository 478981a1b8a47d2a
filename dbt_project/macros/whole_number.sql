{#- A decimal as an integer, rounded half away from zero as DuckDB's cast does (Spark's cast truncates). -#}
{% macro whole_number(number) -%}
    {{ return(adapter.dispatch('whole_number')(number)) }}
{%- endmacro %}

{% macro default__whole_number(number) -%}
    cast({{ number }} as integer)
{%- endmacro %}

{% macro spark__whole_number(number) -%}
    cast(round({{ number }}, 0) as integer)
{%- endmacro %}
