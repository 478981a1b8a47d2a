{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id') }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- One row per claim and benefit of the policy: the base the benefit assesses and, when the person
-- holds an assisted category on the claim's date, the single most generous (category, track, rate)
-- that applies (就高不重复: highest rate, then track order, then the pack's category order). A rate
-- limited to people whose yearly base of the benefit reaches a minimum (a group defined by its
-- costs) applies only to those who reach it.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

claims as (
    select c.*
    from {{ ref('int_claims_netted') }} as c
    inner join policy as p on c.claim_date between p.effective_from and p.effective_to
    where {{ is_changed('c.person_id', 'person_id') }}
),

tracks as (
    select * from {{ ref('stg_policy__benefit_tracks') }}
    where policy_id = {{ policy_id() }}
),

category_order as (
    select * from {{ ref('stg_policy__category_order') }}
    where policy_id = {{ policy_id() }}
),

rates as (
    select * from {{ ref('stg_policy__rates') }}
    where policy_id = {{ policy_id() }}
),

matched as (
    select
        c.claim_id,
        c.person_id,
        c.household_id,
        c.claim_date,
        c.claim_year,
        c.visit_type,
        c.hospital_level,
        c.scheme_of_year,
        c.assistance_paid,
        t.benefit,
        t.track,
        t.track_order,
        t.deductible_offset_by,
        case t.base_kind
            when 'assistance_base' then c.assistance_base
            when 'personal_burden_before_assistance' then c.personal_burden + c.assistance_paid
            when 'total_cost' then c.total_cost
        end as base_amount
    from claims as c
    inner join tracks as t on t.visit_type = c.visit_type
    left join {{ ref('int_claim_diseases') }} as d
        on d.claim_id = c.claim_id and d.disease_list = t.disease_list
    where
        (not t.in_city_only or c.in_city)
        and (
            t.disease_list is null
            or (d.claim_id is not null and (c.visit_type = 'inpatient' or d.covers_outpatient))
        )
),

yearly_base as (
    select
        person_id,
        claim_year,
        benefit,
        track,
        sum(base_amount) as yearly_base_amount
    from matched
    group by person_id, claim_year, benefit, track
),

options as (
    select
        m.*,
        cat.category,
        co.category_rank,
        r.rate,
        r.clause as rate_clause,
        r.min_yearly_base as rate_minimum,
        r.counted_from as rate_counted_from
    from matched as m
    inner join {{ ref('stg_assistance_categories') }} as cat
        on cat.person_id = m.person_id and m.claim_date between cat.valid_from and cat.valid_to
    inner join category_order as co on co.category = cat.category
    inner join rates as r
        on
            r.benefit = m.benefit and r.track = m.track and r.category = cat.category
            and m.claim_date between r.valid_from and r.valid_to
            and (r.hospital_level is null or r.hospital_level = m.hospital_level)
            and (
                r.scheme is null
                or r.scheme = m.scheme_of_year
                or (r.scheme = 'not_employee' and coalesce(m.scheme_of_year, 'none') <> 'employee')
            )
    left join yearly_base as y
        on y.person_id = m.person_id and y.claim_year = m.claim_year and y.benefit = m.benefit and y.track = m.track
    where r.min_yearly_base is null or y.yearly_base_amount >= r.min_yearly_base
),

best as (
    select
        *,
        row_number() over (partition by claim_id, benefit order by rate desc, track_order asc, category_rank asc) as option_rank
    from options
),

first_track as (
    select
        *,
        row_number() over (partition by claim_id, benefit order by track_order) as track_rank
    from matched
)

select
    f.claim_id,
    f.person_id,
    f.household_id,
    f.claim_date,
    f.claim_year,
    f.visit_type,
    f.hospital_level,
    f.benefit,
    coalesce(b.track, f.track) as track,
    coalesce(b.deductible_offset_by, f.deductible_offset_by) as deductible_offset_by,
    coalesce(b.base_amount, f.base_amount) as base_amount,
    f.assistance_paid,
    b.category,
    b.category_rank,
    b.rate,
    b.rate_clause,
    b.rate_minimum,
    b.rate_counted_from,
    b.claim_id is not null as is_covered
from first_track as f
left join best as b
    on b.claim_id = f.claim_id and b.benefit = f.benefit and b.option_rank = 1
where f.track_rank = 1
