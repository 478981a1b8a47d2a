{#- The night being computed and the policy applied: both come from --vars. -#}
{% macro as_of() -%}
    cast('{{ var("as_of") }}' as date)
{%- endmacro %}

{% macro policy_id() -%}
    '{{ var("policy_id") }}'
{%- endmacro %}

{#- Whole years between a birth date and a day. -#}
{% macro age_on(birth, day) -%}
    (extract(year from {{ day }}) - extract(year from {{ birth }})
     - case when extract(month from {{ day }}) * 100 + extract(day from {{ day }})
                 < extract(month from {{ birth }}) * 100 + extract(day from {{ birth }}) then 1 else 0 end)
{%- endmacro %}

{#- Money: rounded to the cent, as the contract asks (after caps). -#}
{% macro money(expr) -%}
    cast(round({{ expr }}, 2) as decimal(18, 2))
{%- endmacro %}

{#- First and last day of a rule's window, for window kinds of the policy packs, on the as-of date
    or on another day (`on`: the month-ends the model's label is judged on). -#}
{% macro window_start(window_column, on=none) -%}
    {%- set day = on if on is not none else as_of() -%}
    case {{ window_column }}
        when 'trailing_12_whole_months' then cast({{ dbt.dateadd('month', -12, dbt.date_trunc('month', day)) }} as date)
        when 'year_to_date' then cast({{ dbt.date_trunc('year', day) }} as date)
    end
{%- endmacro %}

{% macro window_end(window_column, on=none) -%}
    {%- set day = on if on is not none else as_of() -%}
    case {{ window_column }}
        when 'trailing_12_whole_months' then cast({{ dbt.dateadd('day', -1, dbt.date_trunc('month', day)) }} as date)
        when 'year_to_date' then {{ day }}
    end
{%- endmacro %}

{% macro far_future() -%}
    cast('9999-12-31' as date)
{%- endmacro %}

{#- Snapshot feeds are delivered again and again: keep, per key, the latest row delivered by the as-of date. -#}
{% macro latest_delivery(relation, keys) -%}
    {{ latest_of(relation, keys, '_delivery_date <= ' ~ as_of(), ['_delivery_date', '_file', '_row_number']) }}
{%- endmacro %}

{#- The rows of relation (where the condition holds) last delivered for each combination of keys: by
    delivery date, then file, then row in the file. The raw feeds name these _delivery_date, _file and
    _row_number (latest_delivery); the staging models that keep every delivery, delivered_on, source_file
    and source_row. -#}
{% macro latest_of(relation, keys, condition='1 = 1', delivery=['delivered_on', 'source_file', 'source_row']) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by {{ delivery | join(' desc, ') }} desc) as delivery_rank
        from {{ relation }}
        where {{ condition }}
    ) as delivered
    where delivery_rank = 1
{%- endmacro %}

{#- A resident ID as a person may read it: first 6 and last 4 characters, 8 stars between
    (IDs are checked to 18 characters on landing; poverty_warning.contract.ids.mask does the same). -#}
{% macro mask_resident_id(column) -%}
    {{ dbt.concat(["substring(" ~ column ~ ", 1, 6)", "'********'", dbt.right(column, 4)]) }}
{%- endmacro %}

{#- The day a claim counts on, as the contract dates it: an inpatient stay by its discharge. -#}
{% macro claim_date(claims) -%}
    case when {{ claims }}.visit_type = 'inpatient' then coalesce({{ claims }}.discharge_date, {{ claims }}.settle_date) else {{ claims }}.settle_date end
{%- endmacro %}
