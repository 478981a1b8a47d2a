-- The persons whose claim rows an incremental night recomputes (deleted and inserted whole, see the
-- macro kept_between_nights): everyone with a claim, reversal, person, enrollment or category row
-- delivered or landed since the last build's as-of date (var changed_since, set by the pipeline), the
-- owner of a claim reversed since, anyone with a claim dated since (held back until the as-of date
-- reaches it), holders in the as-of year of a category with a yearly cash allowance (judged up to
-- the as-of date, it offsets deductibles), and holders of a category that began or ended since (the
-- members a rule sums are those holding it on the as-of date). Without changed_since, everyone ever
-- landed: the night then recomputes every person.
{{ config(
    pre_hook="{{ join_keys_into_scans(true) }}",
    post_hook="{{ join_keys_into_scans(false) }}"
) }}
-- The claims a night reverses are looked up among all claims with their ids as a scan filter.
{%- set changed_since = var('changed_since', none) %}
-- depends_on: {{ ref('stg_claims') }}, {{ ref('stg_assistance_categories') }}, {{ ref('stg_policy__cash_items') }}

{% if changed_since is none %}
    select distinct person_id from {{ ref('stg_person_rows_landed') }}
{% else %}
    -- Each date compared alone, so the lake's row groups outside it are skipped by their statistics.
    with landed as (
        select
            person_id,
            reversal_of
        from {{ ref('stg_person_rows_landed') }}
        where delivered_on > cast('{{ changed_since }}' as date) and delivered_on <= {{ as_of() }}
        union all
        select
            person_id,
            reversal_of
        from {{ ref('stg_person_rows_landed') }}
        where landed_on > cast('{{ changed_since }}' as date) and delivered_on <= {{ as_of() }}
    ),

    allowance_categories as (
        select distinct category from {{ ref('stg_policy__cash_items') }}
        where policy_id = {{ policy_id() }}
    )

    select person_id from landed
    union
    select c.person_id
    from landed as l
    inner join {{ ref('stg_claims') }} as c on c.claim_id = l.reversal_of
    union
    select person_id from {{ ref('stg_claims') }}
    where settle_date > cast('{{ changed_since }}' as date)
    union
    select person_id from {{ ref('stg_claims') }}
    where discharge_date > cast('{{ changed_since }}' as date)
    union
    select cat.person_id
    from {{ ref('stg_assistance_categories') }} as cat
    inner join allowance_categories as a on a.category = cat.category
    where
        cat.valid_from <= {{ as_of() }}
        and cat.valid_to >= cast({{ dbt.date_trunc('year', as_of()) }} as date)
    union
    select person_id
    from {{ ref('stg_assistance_categories') }}
    where
        (valid_from > cast('{{ changed_since }}' as date) and valid_from <= {{ as_of() }})
        or (valid_to >= cast('{{ changed_since }}' as date) and valid_to < {{ as_of() }})
{% endif %}
