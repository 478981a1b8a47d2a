-- The early-warning model's label, one row per household and feature month M of fct_household_features:
-- the household is identified in one of the 6 months after M, not being identified at M. Identified means
-- what the lists mean: one of the policy's candidate rules holds at that month-end, income and asset tests
-- included (int_rule_verdicts_monthly); for a policy without a rule, the burden ratio reaches its pack's
-- alert warning level. It looks ahead by design: tagged `training`, built on demand by training and
-- backtests (poverty_warning/training.py), never by a night.
with features as (
    select
        household_id,
        feature_month,
        rule_ratio,
        alert_ratio
    from {{ ref('fct_household_features') }}
),

candidate_rules as (
    select count(*) as rules
    from {{ ref('stg_policy__rules') }}
    where policy_id = {{ policy_id() }}
),

verdicts as (
    select
        household_id,
        month_start,
        max(case when meets_rule then 1 else 0 end) as meets_rule
    from {{ ref('int_rule_verdicts_monthly') }}
    group by household_id, month_start
),

identified as (
    select
        f.household_id,
        f.feature_month,
        case
            when cr.rules > 0 then coalesce(v.meets_rule, 0) = 1
            else f.rule_ratio >= f.alert_ratio
        end as identified_now
    from features as f
    cross join candidate_rules as cr
    left join verdicts as v on v.household_id = f.household_id and v.month_start = f.feature_month
),

ahead as (
    select
        i.*,
        max(case when i.identified_now then 1 else 0 end) over (
            partition by i.household_id order by i.feature_month rows between 1 following and 6 following
        ) as identified_next_6m,
        count(*) over (
            partition by i.household_id order by i.feature_month rows between 1 following and 6 following
        ) as months_ahead
    from identified as i
)

select
    household_id,
    feature_month,
    identified_now as at_line_now,
    case
        -- Already identified (or, by a ratio alone, no income to judge by): nothing left to warn of.
        when identified_now is null or identified_now then null
        when identified_next_6m = 1 then 1
        when months_ahead = 6 then 0
    end as label,
    months_ahead = 6 as label_complete
from ahead
