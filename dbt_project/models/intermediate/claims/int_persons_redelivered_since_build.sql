-- The persons an incremental night works out again from the person and enrollment feeds, and whose claim
-- rows it recomputes whole (int_claims_netted): anyone with a person or enrollment row delivered or landed
-- since the last build's as-of date (var changed_since), as their household, sub-district, age or scheme
-- may have moved with it. The other changed persons keep their claim rows and gain only the claims new
-- since. Without changed_since, everyone.
{%- set changed_since = var('changed_since', none) %}

{% if changed_since is none %}
    select distinct person_id from {{ ref('stg_person_rows_landed') }}
{% else %}
    -- Each date compared alone, so the lake's row groups outside it are skipped by their statistics.
    select person_id from {{ ref('stg_person_rows_landed') }}
    where
        feed in ('persons', 'enrollment')
        and delivered_on > cast('{{ changed_since }}' as date) and delivered_on <= {{ as_of() }}
    union
    select person_id from {{ ref('stg_person_rows_landed') }}
    where
        feed in ('persons', 'enrollment')
        and landed_on > cast('{{ changed_since }}' as date) and delivered_on <= {{ as_of() }}
{% endif %}
