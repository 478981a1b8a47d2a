{#- A floating-point number rounded to `places` decimals the way DuckDB rounds it: its exact binary
    value, half away from zero. Spark's round() rounds the shortest decimal form instead, so a quotient
    such as 22471.67 / 2, stored as 11235.834999..., would round up there (11235.84) and down in DuckDB
    (11235.83). Only an apparent tie can differ; for one, Spark compares the double's exact value
    (mantissa * 2^-k, from its IEEE bits) with the tie, in integers. Finite doubles below 1e20 only. -#}
{% macro round_double(number, places) -%}
    {{ return(adapter.dispatch('round_double')(number, places)) }}
{%- endmacro %}

{% macro default__round_double(number, places) -%}
    round({{ number }}, {{ places }})
{%- endmacro %}

{% macro spark__round_double(number, places) -%}
    {%- set scale = 10 ** places -%}
    {%- set shortest = "cast(" ~ number ~ " as decimal(38, 18))" -%}
    {%- set tie = "abs(" ~ shortest ~ ") * " ~ (scale * 10) -%}
    {%- set bits = "cast(reflect('java.lang.Double', 'doubleToLongBits', cast(" ~ number ~ " as double)) as bigint)" -%}
    {%- set mantissa = "cast((" ~ bits ~ " & 4503599627370495) + 4503599627370496 as decimal(38, 0))" -%}
    {%- set shift = "(1075 - (shiftright(" ~ bits ~ ", 52) & 2047))" -%}
    {%- set power_of_two = "cast(shiftleft(cast(1 as bigint), least(" ~ shift ~ ", 60)) as decimal(38, 0)) * cast(shiftleft(cast(1 as bigint), greatest(" ~ shift ~ " - 60, 0)) as decimal(38, 0))" -%}
    case
        when {{ number }} is null then null
        -- An apparent tie whose exact binary value lies below it (in magnitude) rounds towards zero.
        when {{ tie }} % 10 = 5 and {{ shift }} > 0
            and {{ mantissa }} * {{ scale * 10 }} < ({{ tie }}) * {{ power_of_two }}
            then case when {{ number }} < 0 then -1 else 1 end * floor(abs({{ shortest }}) * {{ scale }}) / {{ scale }}
        else round({{ shortest }}, {{ places }})
    end
{%- endmacro %}
