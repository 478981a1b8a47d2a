{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook=["{{ delete_claims_to_recompute() }}", "{{ joins_as_written(true) }}"],
    post_hook="{{ joins_as_written(false) }}"
) }}
-- depends_on: {{ ref('int_persons_redelivered_since_build') }}
-- Settlements net of reversals (a reversed claim and its reversal both drop out), dated as the
-- contract dates them (inpatient by discharge date), with the two derived amounts policies use.
-- A full build reads the claims once: the CTE read twice is materialised, and DuckDB, planning from its
-- small estimate of a filtered lake scan, would otherwise build its joins on millions of claims (so
-- would it the enrollment join, but for joins_as_written). An incremental night keeps the last build's
-- rows and reads only what moves them: the claims of persons delivered again, whole (their household,
-- age or scheme may have moved); everyone else's claims the last build did not hold; and every
-- reversal, apart (a reversal may name another person's claim). The pre-hook deletes the rows of the
-- persons delivered again and of the claims reversed.
{%- set changed_since = var('changed_since', none) if is_incremental() else none %}
with claims as (
    {%- if changed_since is none %}
        select * from {{ ref('stg_claims') }}
    {%- else %}
        select * from {{ ref('stg_claims') }}
        where person_id in (select r.person_id from {{ ref('int_persons_redelivered_since_build') }} as r)
        union all
        -- The others' claims the last build did not hold: landed or delivered since, or dated since (held back
        -- until the as-of date reached them); each date first compared alone, so the lake's row groups
        -- outside it are skipped by their statistics.
        select n.*
        from (
            select * from {{ ref('stg_claims') }}
            where landed_on > cast('{{ changed_since }}' as date)
            union
            select * from {{ ref('stg_claims') }}
            where delivered_on > cast('{{ changed_since }}' as date)
            union
            select * from {{ ref('stg_claims') }}
            where settle_date > cast('{{ changed_since }}' as date)
            union
            select * from {{ ref('stg_claims') }}
            where discharge_date > cast('{{ changed_since }}' as date)
        ) as n
        where
            (
                n.landed_on > cast('{{ changed_since }}' as date)
                or n.delivered_on > cast('{{ changed_since }}' as date)
                or {{ claim_date('n') }} > cast('{{ changed_since }}' as date)
            )
            and not exists (
                select 1 from {{ ref('int_persons_redelivered_since_build') }} as r
                where r.person_id = n.person_id
            )
    {%- endif %}
),

reversed as (
    select distinct reversal_of as claim_id
    from {% if is_incremental() %}{{ ref('stg_claims') }}{% else %}claims{% endif %}
    where reversal_of is not null
),

kept as (
    select
        c.*,
        {{ claim_date('c') }} as claim_date
    from claims as c
    left join reversed as r on r.claim_id = c.claim_id
    where c.reversal_of is null and r.claim_id is null
)

select
    k.claim_id,
    k.person_id,
    p.household_id,
    p.subdistrict_code,
    k.visit_type,
    k.admit_date,
    k.discharge_date,
    k.settle_date,
    k.claim_date,
    cast(extract(year from k.claim_date) as integer) as claim_year,
    k.hospital_id,
    k.hospital_level,
    k.in_city,
    k.diagnosis_code,
    k.total_cost,
    k.policy_scope_cost,
    k.basic_fund_paid,
    k.critical_illness_paid,
    k.assistance_paid,
    k.other_paid,
    k.self_pay_in_scope,
    k.self_pay_out_scope,
    k.self_pay_in_scope + k.assistance_paid as assistance_base,
    k.self_pay_in_scope + k.self_pay_out_scope as personal_burden,
    {{ age_on('p.birth_date', 'k.claim_date') }} as age_at_claim,
    e.scheme as scheme_of_year
from kept as k
inner join {{ ref('int_persons_enriched') }} as p on p.person_id = k.person_id
left join {{ ref('int_enrollment_by_year') }} as e
    on e.person_id = k.person_id and e.enrollment_year = extract(year from k.claim_date)
where k.claim_date <= {{ as_of() }}
