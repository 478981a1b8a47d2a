{#- A resident ID as people may read it: first 6 and last 4 kept, as poverty_warning.contract.ids.mask does. -#}
{% macro mask_resident_id(column) -%}
    {{ dbt.concat(["substring(" ~ column ~ ", 1, 6)", "'********'", dbt.right(column, "4")]) }}
{%- endmacro %}
