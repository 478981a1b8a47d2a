{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('household_id') }}"
) }}
-- depends_on: {{ ref('int_households_changed_since_build') }}
-- The early-warning model's inputs: one row per household and feature month M, built only from data up
-- to the end of M. Built every night (the nightly score reads the last complete month). The label, which
-- looks six months ahead, is fct_household_labels (training only). Every figure is the household's own
-- (rows of its months, its members, income and categories), so a night recomputes only the households
-- with something new (kept_between_nights).
with months as (
    select
        m.*,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'm.month_start')) }} as date) as month_end
    from {{ ref('int_household_months') }} as m
    where {{ is_changed('m.household_id', 'household_id') }}
),

policy as (
    select * from {{ ref('int_policy_in_force') }}
),

alert as (
    select min(ratio) as alert_ratio
    from {{ ref('stg_policy__warning_levels') }}
    where policy_id = {{ policy_id() }} and warning_level = 'alert'
),

watch as (
    select min(ratio) as watch_ratio
    from {{ ref('stg_policy__warning_levels') }}
    where policy_id = {{ policy_id() }} and warning_level = 'watch'
),

rolling as (
    select
        m.*,
        m.personal_burden as burden_1m,
        sum(m.personal_burden)
            over (partition by m.household_id order by m.month_start rows between 2 preceding and current row)
            as burden_3m,
        sum(m.personal_burden)
            over (partition by m.household_id order by m.month_start rows between 5 preceding and current row)
            as burden_6m,
        sum(m.personal_burden)
            over (partition by m.household_id order by m.month_start rows between 11 preceding and current row)
            as burden_12m,
        sum(m.personal_burden)
            over (partition by m.household_id order by m.month_start rows between 5 preceding and 3 preceding)
            as burden_prev_3m,
        sum(m.assistance_base)
            over (partition by m.household_id order by m.month_start rows between 11 preceding and current row)
            as assistance_base_12m,
        sum(m.assistance_base)
            over (
                partition by m.household_id, extract(year from m.month_start)
                order by m.month_start rows between unbounded preceding and current row
            )
            as assistance_base_ytd,
        sum(m.personal_burden)
            over (
                partition by m.household_id, extract(year from m.month_start)
                order by m.month_start rows between unbounded preceding and current row
            )
            as burden_ytd,
        sum(m.inpatient_stays)
            over (partition by m.household_id order by m.month_start rows between 11 preceding and current row)
            as inpatient_stays_12m,
        sum(m.inpatient_stays)
            over (partition by m.household_id order by m.month_start rows between 2 preceding and current row)
            as inpatient_stays_3m,
        sum(m.special_outpatient_claims)
            over (partition by m.household_id order by m.month_start rows between 11 preceding and current row)
            as special_outpatient_12m,
        sum(m.emergency_visits)
            over (partition by m.household_id order by m.month_start rows between 5 preceding and current row)
            as emergency_visits_6m,
        max(m.cancer) over (partition by m.household_id order by m.month_start rows between 11 preceding and current row) as cancer_12m,
        max(m.kidney_failure)
            over (partition by m.household_id order by m.month_start rows between 11 preceding and current row)
            as kidney_failure_12m,
        max(m.stroke) over (partition by m.household_id order by m.month_start rows between 11 preceding and current row) as stroke_12m,
        max(m.chronic) over (partition by m.household_id order by m.month_start rows between 11 preceding and current row) as chronic_12m,
        max(greatest(m.cancer, m.kidney_failure, m.stroke))
            over (partition by m.household_id order by m.month_start rows between 2 preceding and current row)
            as catastrophic_3m,
        sum(m.symptom_visits)
            over (partition by m.household_id order by m.month_start rows between 2 preceding and current row)
            as symptom_visits_3m,
        count(*) over (partition by m.household_id order by m.month_start rows between 11 preceding and current row) as months_observed
    from months as m
),

income as (
    select
        t.household_id,
        t.month_start,
        i.annual_disposable_income,
        i.assets_within_limit,
        row_number() over (partition by t.household_id, t.month_start order by i.assessed_on desc) as recency
    from rolling as t
    inner join {{ ref('stg_household_income') }} as i
        on i.household_id = t.household_id and i.assessed_on <= t.month_end
),

members as (
    -- A person counts in a month's household from their birth on: a child born after M is not in M's rows.
    select
        t.household_id,
        t.month_start,
        count(*) as household_size,
        max({{ age_on('p.birth_date', 't.month_end') }}) as oldest_age,
        min({{ age_on('p.birth_date', 't.month_end') }}) as youngest_age,
        sum(case when {{ age_on('p.birth_date', 't.month_end') }} >= 65 then 1 else 0 end) as members_65_plus,
        sum(case when {{ age_on('p.birth_date', 't.month_end') }} < 18 then 1 else 0 end) as members_under_18,
        min(p.district_code) as district_code
    from (select distinct
        household_id,
        month_start,
        month_end
    from rolling) as t
    inner join {{ ref('int_persons_enriched') }} as p
        on p.household_id = t.household_id and (p.birth_date is null or p.birth_date <= t.month_end)
    group by t.household_id, t.month_start
),

categories as (
    select
        t.household_id,
        t.month_start,
        max(case when co.category is not null then 1 else 0 end) as has_policy_category,
        max(case when cat.category in ('dibao', 'tekun') then 1 else 0 end) as has_dibao_or_tekun,
        max(case when cat.category in ('low_income', 'dibao_edge') then 1 else 0 end) as has_low_income,
        max(case when cat.category = 'severe_disability' or cat.disability_grade is not null then 1 else 0 end) as has_disability
    from (select distinct
        household_id,
        month_start,
        month_end
    from rolling) as t
    inner join {{ ref('int_persons_enriched') }} as p on p.household_id = t.household_id
    inner join {{ ref('stg_assistance_categories') }} as cat
        on cat.person_id = p.person_id and t.month_end between cat.valid_from and cat.valid_to
    left join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category = cat.category
    group by t.household_id, t.month_start
),

measured as (
    select
        t.*,
        i.annual_disposable_income,
        coalesce(i.assets_within_limit, true) as assets_within_limit,
        case
            when i.annual_disposable_income > 0
                then
                    case
                        when p.warning_window = 'trailing_12_whole_months' and p.warning_amount = 'personal_burden' then t.burden_12m
                        when p.warning_window = 'trailing_12_whole_months' then t.assistance_base_12m
                        when p.warning_amount = 'personal_burden' then t.burden_ytd
                        else t.assistance_base_ytd
                    end / i.annual_disposable_income
        end as rule_ratio
    from rolling as t
    cross join policy as p
    left join income as i on i.household_id = t.household_id and i.month_start = t.month_start and i.recency = 1
),

with_previous as (
    select
        m.*,
        a.alert_ratio,
        w.watch_ratio,
        lag(m.rule_ratio) over (partition by m.household_id order by m.month_start) as rule_ratio_prev
    from measured as m
    cross join alert as a
    cross join watch as w
)

select
    l.household_id,
    l.month_start as feature_month,
    l.month_end,
    mem.household_size,
    l.burden_1m,
    l.burden_3m,
    l.burden_6m,
    l.burden_12m,
    l.burden_3m - l.burden_prev_3m as burden_trend_3m,
    l.inpatient_stays_3m,
    l.inpatient_stays_12m,
    l.special_outpatient_12m,
    l.emergency_visits_6m,
    l.cancer_12m,
    l.kidney_failure_12m,
    l.stroke_12m,
    l.chronic_12m,
    l.catastrophic_3m,
    l.symptom_visits_3m,
    l.months_observed,
    mem.oldest_age,
    mem.youngest_age,
    mem.members_65_plus,
    mem.members_under_18,
    coalesce(c.has_policy_category, 0) as has_policy_category,
    coalesce(c.has_dibao_or_tekun, 0) as has_dibao_or_tekun,
    coalesce(c.has_low_income, 0) as has_low_income,
    coalesce(c.has_disability, 0) as has_disability,
    l.annual_disposable_income / mem.household_size as per_capita_income,
    case when l.assets_within_limit then 1 else 0 end as assets_within_limit,
    l.rule_ratio,
    case when l.annual_disposable_income > 0 then l.burden_3m * 4 / l.annual_disposable_income end as ratio_3m_annualised,
    case when l.annual_disposable_income > 0 then l.burden_6m * 2 / l.annual_disposable_income end as ratio_6m_annualised,
    case when l.rule_ratio_prev >= l.watch_ratio then 1 else 0 end as warned_last_month,
    l.alert_ratio,
    {{ dbt.concat(["cast(cast(floor(mem.oldest_age / 20) * 20 as integer) as " ~ dbt.type_string() ~ ")", "'+'"]) }} as age_group,
    mem.district_code
from with_previous as l
left join members as mem on mem.household_id = l.household_id and mem.month_start = l.month_start
left join categories as c on c.household_id = l.household_id and c.month_start = l.month_start
