-- The households whose monthly rows, features and rule measures an incremental night recomputes (deleted and inserted
-- whole, see the macro kept_between_nights): every household a changed person (int_persons_changed_since_build)
-- was ever delivered in — a move changes the household left as well as the one joined — and every household
-- with an income assessment delivered or landed since the last build's as-of date (var changed_since), or
-- delivered before with an assessment date since (it takes effect now).
-- Without changed_since, every household ever landed.
{%- set changed_since = var('changed_since', none) %}
-- depends_on: {{ ref('int_persons_changed_since_build') }}

{% if changed_since is none %}
    select distinct household_id from {{ ref('stg_household_rows_landed') }}
{% else %}
    select h.household_id
    from {{ ref('stg_household_rows_landed') }} as h
    inner join {{ ref('int_persons_changed_since_build') }} as p on p.person_id = h.person_id
    union
    select household_id
    from {{ ref('stg_household_rows_landed') }}
    where
        feed = 'household_income' and delivered_on <= {{ as_of() }}
        and (
            delivered_on > cast('{{ changed_since }}' as date)
            or landed_on > cast('{{ changed_since }}' as date)
            or (effective_on > cast('{{ changed_since }}' as date) and effective_on <= {{ as_of() }})
        )
{% endif %}
