{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id') }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- Which of the policy's disease lists each claim's diagnosis falls in (ICD-10 prefix match),
-- and whether the list covers that disease's outpatient treatment too.
with codes as (
    select * from {{ ref('stg_policy__disease_codes') }}
    where policy_id = {{ policy_id() }}
)

select
    c.claim_id,
    c.person_id,
    d.disease_list,
    max(case when d.covers_outpatient then 1 else 0 end) = 1 as covers_outpatient
from {{ ref('int_claims_netted') }} as c
inner join codes as d
    on
        substring(c.diagnosis_code, 1, length(d.prefix)) = d.prefix
        and (d.max_age is null or c.age_at_claim <= d.max_age)
where {{ is_changed('c.person_id', 'person_id') }}
group by c.claim_id, c.person_id, d.disease_list
