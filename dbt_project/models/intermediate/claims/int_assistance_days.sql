{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id') }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- Covered claims turned into assisted amounts before yearly caps: the rate on the part of the base
-- above any yearly deductible (taken in date order; a rate counted only above its yearly minimum
-- adds that minimum), then the daily cap and the monthly number of assisted days or visits, where
-- the pack sets them.
with covered as (
    select * from {{ ref('int_claim_benefits') }}
    where is_covered and {{ is_changed('person_id', 'person_id') }}
),

limits as (
    select * from {{ ref('stg_policy__limits') }}
    where policy_id = {{ policy_id() }}
),

parameters as (
    select * from {{ ref('int_parameters_resolved') }}
),

scheme_of_claim as (
    select
        claim_id,
        scheme_of_year
    from {{ ref('int_claims_netted') }}
),

deductibles as (
    select
        c.claim_id,
        c.benefit,
        max(coalesce(l.fixed_value, p.parameter_value * l.multiplier)) as deductible,
        max(l.clause) as deductible_clause
    from covered as c
    inner join scheme_of_claim as s on s.claim_id = c.claim_id
    inner join limits as l
        on
            l.kind = 'annual_deductible' and l.benefit = c.benefit and l.track = c.track
            and c.claim_date between l.valid_from and l.valid_to
            and (
                l.scheme is null or l.scheme = s.scheme_of_year
                or (l.scheme = 'not_employee' and coalesce(s.scheme_of_year, 'none') <> 'employee')
            )
    left join parameters as p
        on p.parameter_name = l.parameter_name and p.parameter_year = c.claim_year
    group by c.claim_id, c.benefit
),

thresholds as (
    select
        c.*,
        d.claim_id is not null or c.rate_counted_from = 'above_minimum' as has_deductible,
        d.deductible,
        d.deductible_clause,
        coalesce(o.expected_assistance, 0) as deductible_offset,
        coalesce(d.deductible, 0) + coalesce(o.expected_assistance, 0)
        + case when c.rate_counted_from = 'above_minimum' then c.rate_minimum else 0 end as threshold,
        d.claim_id is not null and d.deductible is null as deductible_unknown
    from covered as c
    left join deductibles as d on d.claim_id = c.claim_id and d.benefit = c.benefit
    left join {{ ref('int_cash_entitlements') }} as o
        on o.person_id = c.person_id and o.entitlement_year = c.claim_year and o.benefit = c.deductible_offset_by
),

cumulated as (
    select
        *,
        sum(base_amount) over (
            partition by person_id, claim_year, benefit, track
            order by claim_date, claim_id
            rows between unbounded preceding and current row
        ) as cumulative_base
    from thresholds
),

visit_limits as (
    select
        benefit,
        track,
        category,
        valid_from,
        valid_to,
        fixed_value as visits_limit
    from limits
    where kind = 'monthly_visits' and counts = 'visits'
),

assessed as (
    select
        *,
        -- The claim's place among the month's claims with something to assist (for visit limits).
        sum(case when base_amount > 0 then 1 else 0 end) over (
            partition by person_id, benefit, track, claim_year, extract(month from claim_date)
            order by claim_date, claim_id
            rows between unbounded preceding and current row
        ) as visit_in_month,
        case
            when deductible_unknown then 0
            when has_deductible then greatest(0, cumulative_base - threshold) - greatest(0, cumulative_base - base_amount - threshold)
            else base_amount
        end as assessable_base
    from cumulated
),

days as (
    select
        person_id,
        claim_year,
        benefit,
        track,
        category,
        claim_date,
        min(category_rank) as category_rank,
        max(rate) as rate,
        sum(base_amount) as base_amount,
        sum(assessable_base) as assessable_base,
        sum(case when visit_limited then 0 else assessable_base * rate end) as raw_assistance,
        max(case when visit_limited then 1 else 0 end) = 1 as visit_limit_binding,
        max(case when has_deductible then 1 else 0 end) = 1 as has_deductible,
        max(case when deductible_unknown then 1 else 0 end) = 1 as deductible_unknown,
        max(deductible) as deductible,
        max(deductible_clause) as deductible_clause,
        max(deductible_offset) as deductible_offset,
        count(*) as claims
    from (
        select
            a.*,
            coalesce(a.visit_in_month > (
                select min(v.visits_limit) from visit_limits as v
                where
                    v.benefit = a.benefit and v.track = a.track
                    and (v.category is null or v.category = a.category)
                    and a.claim_date between v.valid_from and v.valid_to
            ), false) as visit_limited
        from assessed as a
    ) as claims
    group by person_id, claim_year, benefit, track, category, claim_date
),

daily_capped as (
    select
        d.*,
        min(coalesce(l.fixed_value, p.parameter_value * l.multiplier)) as daily_cap,
        max(l.clause) as daily_cap_clause
    from days as d
    left join limits as l
        on
            l.kind = 'daily_cap' and l.benefit = d.benefit and l.track = d.track
            and (l.category is null or l.category = d.category)
            and d.claim_date between l.valid_from and l.valid_to
    left join parameters as p
        on p.parameter_name = l.parameter_name and p.parameter_year = d.claim_year
    group by
        d.person_id, d.claim_year, d.benefit, d.track, d.category, d.claim_date, d.category_rank, d.rate,
        d.base_amount, d.assessable_base, d.raw_assistance, d.visit_limit_binding, d.has_deductible,
        d.deductible_unknown, d.claims, d.deductible, d.deductible_clause, d.deductible_offset
),

monthly as (
    select
        c.*,
        sum(case when c.raw_assistance > 0 then 1 else 0 end) over (
            partition by c.person_id, c.benefit, c.track, c.claim_year, extract(month from c.claim_date)
            order by c.claim_date
            rows between unbounded preceding and current row
        ) as day_in_month,
        (
            select min(l.fixed_value) from limits as l
            where
                l.kind = 'monthly_visits' and coalesce(l.counts, 'assisted_days') = 'assisted_days'
                and l.benefit = c.benefit and l.track = c.track
                and (l.category is null or l.category = c.category)
                and c.claim_date between l.valid_from and l.valid_to
        ) as monthly_days_limit,
        (
            select max(l.clause) from limits as l
            where
                l.kind = 'monthly_visits' and l.benefit = c.benefit and l.track = c.track
                and (l.category is null or l.category = c.category)
                and c.claim_date between l.valid_from and l.valid_to
        ) as monthly_days_clause
    from daily_capped as c
)

select
    person_id,
    claim_year,
    benefit,
    track,
    category,
    category_rank,
    claim_date,
    rate,
    base_amount,
    assessable_base,
    raw_assistance,
    daily_cap,
    monthly_days_limit,
    claims,
    has_deductible,
    deductible_unknown,
    deductible,
    deductible_offset,
    deductible_clause,
    daily_cap_clause,
    monthly_days_clause,
    day_in_month,
    least(raw_assistance, coalesce(daily_cap, raw_assistance)) as after_daily_cap,
    case
        when monthly_days_limit is not null and day_in_month > monthly_days_limit then 0
        else least(raw_assistance, coalesce(daily_cap, raw_assistance))
    end as assisted_amount,
    raw_assistance > coalesce(daily_cap, raw_assistance) as daily_cap_binding,
    (monthly_days_limit is not null and day_in_month > monthly_days_limit) or visit_limit_binding as monthly_limit_binding
from monthly
