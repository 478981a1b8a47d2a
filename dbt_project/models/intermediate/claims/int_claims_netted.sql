{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook=["{{ delete_changed('person_id') }}", "{{ joins_as_written(true) }}"],
    post_hook="{{ joins_as_written(false) }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- Settlements net of reversals (a reversed claim and its reversal both drop out), dated as the
-- contract dates them (inpatient by discharge date), with the two derived amounts policies use.
-- A full build reads the claims once: the CTE read twice is materialised, and DuckDB, planning from its
-- small estimate of a filtered lake scan, would otherwise build its joins on millions of claims (so
-- would it the enrollment join, but for joins_as_written). An incremental night reads the changed
-- persons' claims, and every reversal apart (a reversal may name another person's claim).
with claims as (
    select * from {{ ref('stg_claims') }}
    where {{ is_changed('person_id', 'person_id') }}
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
