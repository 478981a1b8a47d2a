-- The fund's own targets (stg_policy__fund_targets) measured for the as-of year to date, and per month for
-- person-time shares, plus the share of expected assistance actually paid (every city, no target).
with targets as (
    select * from {{ ref('stg_policy__fund_targets') }}
    where policy_id = {{ policy_id() }}
),

assisted_claims as (
    -- Directly assisted person-times: settled claims (net of reversals) with assistance paid, this year.
    select
        c.claim_id,
        c.claim_date,
        {{ dbt.date_trunc('month', 'c.claim_date') }} as claim_month
    from {{ ref('int_claims_netted') }} as c
    where
        c.assistance_paid > 0
        and c.claim_date between cast({{ dbt.date_trunc('year', as_of()) }} as date) and {{ as_of() }}
),

catastrophic as (
    select
        t.target,
        cast(a.claim_month as date) as period_start,
        sum(case when d.claim_id is not null then 1 else 0 end) as numerator,
        count(*) as denominator
    from targets as t
    inner join assisted_claims as a on t.kind = 'catastrophic_share_of_assisted_claims'
    left join {{ ref('int_claim_diseases') }} as d
        on d.claim_id = a.claim_id and d.disease_list = t.disease_list
    group by t.target, cast(a.claim_month as date)
),

catastrophic_periods as (
    select
        target,
        'month' as period,
        period_start,
        numerator,
        denominator
    from catastrophic
    union all
    select
        target,
        'year_to_date',
        cast({{ dbt.date_trunc('year', as_of()) }} as date),
        sum(numerator),
        sum(denominator)
    from catastrophic
    group by target
),

balance as (
    select
        t.target,
        'year' as period,
        cast({{ dbt.date_trunc('year', as_of()) }} as date) as period_start,
        f.balance as numerator,
        f.funding as denominator
    from targets as t
    left join {{ ref('stg_fund_accounts') }} as f on f.fund_year = extract(year from {{ as_of() }})
    where t.kind = 'balance_share_of_funding'
),

person_entitlements as (
    select
        person_id,
        sum(expected_assistance) as expected,
        sum(unpaid_assistance) as unpaid
    from {{ ref('fct_entitlements') }}
    where year = extract(year from {{ as_of() }})
    group by person_id
    having sum(expected_assistance) > 0
),

paid_in_full as (
    select
        t.target,
        'year_to_date' as period,
        cast({{ dbt.date_trunc('year', as_of()) }} as date) as period_start,
        (
            select count(*) from person_entitlements as pe
            where pe.unpaid <= 0
        ) as numerator,
        (select count(*) from person_entitlements) as denominator
    from targets as t
    where t.kind = 'entitled_paid_in_full_rate'
),

enrollment as (
    select
        t.target,
        'as_of' as period,
        {{ as_of() }} as period_start,
        (
            select count(*) from {{ ref('int_enrollment_due') }} as e
            where e.issue is null and e.subsidy_due
        ) as numerator,
        (
            select count(*) from {{ ref('int_enrollment_due') }} as e
            where e.subsidy_due
        ) as denominator
    from targets as t
    where t.kind = 'subsidised_enrollment_rate'
),

measured as (
    select * from catastrophic_periods
    union all
    select * from balance
    union all
    select * from paid_in_full
    union all
    select * from enrollment
),

paid_share as (
    select
        'paid_share_of_expected' as target,
        'paid_share_of_expected' as kind,
        '应救助金额实际支付比例（应救未救，按金额）' as label_zh,
        cast(null as decimal(9, 4)) as minimum,
        cast(null as decimal(9, 4)) as maximum,
        'contract §2 entitlements: paid_assistance against expected_assistance, the as-of year' as clause,
        'year_to_date' as period,
        cast({{ dbt.date_trunc('year', as_of()) }} as date) as period_start,
        sum(paid_assistance) as numerator,
        sum(expected_assistance) as denominator
    from {{ ref('fct_entitlements') }}
    where year = extract(year from {{ as_of() }})
)

select
    {{ policy_id() }} as policy_id,
    k.target,
    k.kind,
    k.label_zh,
    k.period,
    k.period_start,
    k.numerator,
    k.denominator,
    case when k.denominator > 0 then cast(round(k.numerator / k.denominator, 4) as decimal(12, 4)) end as kpi_value,
    k.minimum,
    k.maximum,
    case
        when k.denominator is null or k.denominator = 0 then null
        when k.minimum is not null then k.numerator >= k.minimum * k.denominator
        when k.maximum is not null then k.numerator <= k.maximum * k.denominator
    end as target_met,
    k.clause
from (
    select
        t.target,
        t.kind,
        t.label_zh,
        t.minimum,
        t.maximum,
        t.clause,
        m.period,
        m.period_start,
        cast(m.numerator as decimal(18, 2)) as numerator,
        cast(m.denominator as decimal(18, 2)) as denominator
    from targets as t
    inner join measured as m on m.target = t.target
    union all
    select
        target,
        kind,
        label_zh,
        minimum,
        maximum,
        clause,
        period,
        period_start,
        cast(numerator as decimal(18, 2)),
        cast(denominator as decimal(18, 2))
    from paid_share
) as k
