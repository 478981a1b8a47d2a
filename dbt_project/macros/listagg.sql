{#- dbt-spark's listagg ignores the order (it only warns), so a list joined on Spark could read differently
    from DuckDB's and from one run to the next. This one keeps the order: the values are collected with their
    sort keys, sorted by a comparator that follows the order-by clause (desc, and nulls last as DuckDB's
    default), then joined; null values are skipped, as string_agg skips them. dbt_project.yml's dispatch
    puts this project before dbt for dbt's own macros, so `dbt.listagg` reaches it on Spark. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if not order_by_clause -%}
        {{ return(dbt_spark_unordered_listagg(measure, delimiter_text, limit_num)) }}
    {%- endif -%}
    {%- set keys = [] -%}
    {%- for part in order_by_clause.strip()[8:].split(',') -%}  {#- after 'order by' -#}
        {%- set words = part.strip().split() -%}
        {%- do keys.append({'expr': words[0], 'desc': (words | length > 1 and words[1] | lower == 'desc')}) -%}
    {%- endfor -%}
    {%- set fields = [] -%}
    {%- for k in keys -%}
        {%- do fields.append("'k" ~ loop.index ~ "', " ~ k.expr) -%}
    {%- endfor -%}
    {%- set ns = namespace(compare='0') -%}
    {%- for k in keys | reverse -%}
        {%- set f = 'k' ~ (keys | length - loop.index + 1) -%}
        {%- set before, after = ('1', '-1') if k.desc else ('-1', '1') -%}
        {%- set ns.compare = "case when l." ~ f ~ " is null and r." ~ f ~ " is null then " ~ ns.compare
            ~ " when l." ~ f ~ " is null then 1 when r." ~ f ~ " is null then -1"
            ~ " when l." ~ f ~ " < r." ~ f ~ " then " ~ before ~ " when l." ~ f ~ " > r." ~ f ~ " then " ~ after
            ~ " else " ~ ns.compare ~ " end" -%}
    {%- endfor -%}
    {%- set sorted -%}
        array_sort(
            collect_list(named_struct({{ fields | join(', ') }}, 'v', {{ measure }})),
            (l, r) -> {{ ns.compare }}
        )
    {%- endset -%}
    {%- set values -%}
        transform(filter({{ sorted }}, x -> x.v is not null), x -> x.v)
    {%- endset -%}
    {%- if limit_num -%}
        {%- set values = 'slice(' ~ values ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ values }}, {{ delimiter_text }})
{%- endmacro %}

{% macro dbt_spark_unordered_listagg(measure, delimiter_text, limit_num) -%}
    {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    array_join({{ collected }}, {{ delimiter_text }})
{%- endmacro %}
