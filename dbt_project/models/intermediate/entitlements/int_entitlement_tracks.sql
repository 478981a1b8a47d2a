-- Yearly assisted amount per person, benefit and track after the track's annual cap and after any
-- combined cap shared across benefits (allocated in the pack's benefit order).
with days as (
    select * from {{ ref('int_assistance_days') }}
),

limits as (
    select * from {{ ref('stg_policy__limits') }}
    where policy_id = {{ policy_id() }}
),

parameters as (
    select * from {{ ref('int_parameters_resolved') }}
),

special_disease_patients as (
    -- The contract: a special_outpatient claim in a year makes the person a special-disease patient for it.
    select distinct
        person_id,
        claim_year
    from {{ ref('int_claims_netted') }}
    where visit_type = 'special_outpatient'
),

track_years as (
    select
        d.person_id,
        d.claim_year,
        d.benefit,
        d.track,
        min(d.category_rank) as category_rank,
        max(d.claim_date) as last_claim_date,
        sum(d.raw_assistance) as raw_assistance,
        sum(d.after_daily_cap) as after_daily_cap,
        sum(d.assisted_amount) as assisted_amount,
        max(case when d.daily_cap_binding then 1 else 0 end) = 1 as daily_cap_binding,
        max(case when d.monthly_limit_binding then 1 else 0 end) = 1 as monthly_limit_binding,
        max(case when d.has_deductible then 1 else 0 end) = 1 as has_deductible,
        max(case when d.deductible_unknown then 1 else 0 end) = 1 as deductible_unknown
    from days as d
    group by d.person_id, d.claim_year, d.benefit, d.track
),

with_category as (
    select
        t.*,
        co.category,
        s.person_id is not null as is_special_disease_patient
    from track_years as t
    inner join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category_rank = t.category_rank
    left join special_disease_patients as s on s.person_id = t.person_id and s.claim_year = t.claim_year
),

annual_caps as (
    -- A special-disease patients' cap, where one is in force, replaces the general one.
    select
        w.person_id,
        w.claim_year,
        w.benefit,
        w.track,
        min(case when l.applies_to = 'special_disease_patients' then coalesce(l.fixed_value, p.parameter_value * l.multiplier) end)
            as special_cap,
        min(case when l.applies_to = 'everyone' then coalesce(l.fixed_value, p.parameter_value * l.multiplier) end) as general_cap,
        max(case when l.applies_to = 'special_disease_patients' then l.clause end) as special_clause,
        max(case when l.applies_to = 'everyone' then l.clause end) as general_clause
    from with_category as w
    inner join limits as l
        on
            l.kind = 'annual_cap' and l.benefit = w.benefit and l.track = w.track
            and (l.category is null or l.category = w.category)
            and (l.applies_to = 'everyone' or w.is_special_disease_patient)
            and w.last_claim_date between l.valid_from and l.valid_to
    left join parameters as p
        on p.parameter_name = l.parameter_name and p.parameter_year = w.claim_year
    group by w.person_id, w.claim_year, w.benefit, w.track
),

capped as (
    select
        w.*,
        coalesce(c.special_cap, c.general_cap) as annual_cap,
        coalesce(c.special_clause, c.general_clause) as annual_cap_clause,
        least(w.assisted_amount, coalesce(c.special_cap, c.general_cap, w.assisted_amount)) as after_annual_cap
    from with_category as w
    left join annual_caps as c
        on c.person_id = w.person_id and c.claim_year = w.claim_year and c.benefit = w.benefit and c.track = w.track
),

combined as (
    select * from {{ ref('stg_policy__combined_caps') }}
    where policy_id = {{ policy_id() }}
),

in_combined as (
    select
        c.person_id,
        c.claim_year,
        c.benefit,
        c.track,
        c.after_annual_cap,
        k.cap_id,
        k.benefit_position,
        k.clause as combined_clause,
        coalesce(k.fixed_value, p.parameter_value * k.multiplier) as combined_cap
    from capped as c
    inner join combined as k
        on
            k.benefit = c.benefit
            and (k.track is null or k.track = c.track)
            and (k.category is null or k.category = c.category)
            and (k.applies_to = 'everyone' or c.is_special_disease_patient)
            and c.last_claim_date between k.valid_from and k.valid_to
    left join parameters as p
        on p.parameter_name = k.parameter_name and p.parameter_year = c.claim_year
    -- A cap whose figure is unknown (no year up to the claim's has one) limits nothing: never a silent zero.
    where coalesce(k.fixed_value, p.parameter_value * k.multiplier) is not null
),

allocated as (
    select
        *,
        greatest(0, combined_cap - coalesce(sum(after_annual_cap) over (
            partition by person_id, claim_year, cap_id
            order by benefit_position, track
            rows between unbounded preceding and 1 preceding
        ), 0)) as room_left
    from in_combined
),

combined_limits as (
    select
        person_id,
        claim_year,
        benefit,
        track,
        min(least(after_annual_cap, room_left)) as after_combined_cap,
        min(combined_cap) as combined_cap,
        max(combined_clause) as combined_clause
    from allocated
    group by person_id, claim_year, benefit, track
)

select
    c.person_id,
    c.claim_year,
    c.benefit,
    c.track,
    c.category,
    c.category_rank,
    c.is_special_disease_patient,
    c.raw_assistance,
    c.assisted_amount,
    c.annual_cap,
    c.annual_cap_clause,
    c.after_annual_cap,
    l.combined_cap,
    l.combined_clause,
    coalesce(l.after_combined_cap, c.after_annual_cap) as final_amount,
    c.daily_cap_binding,
    c.monthly_limit_binding,
    c.has_deductible,
    c.deductible_unknown,
    c.assisted_amount > c.after_annual_cap as annual_cap_binding,
    coalesce(l.after_combined_cap, c.after_annual_cap) < c.after_annual_cap as combined_cap_binding
from capped as c
left join combined_limits as l
    on l.person_id = c.person_id and l.claim_year = c.claim_year and l.benefit = c.benefit and l.track = c.track
