-- Every identification rule of the policy judged at every month-end of the landed history, the way the
-- night of that day judges it (int_rule_measures, same tests via rule_tests): the early-warning model's
-- label. Only what was known that day counts: claims settled by then, the latest income assessment by
-- then, categories valid then, members born by then, that year's city figures. The current month is
-- judged on the as-of date; a claim reversed later counts until its reversal settled. The catastrophic
-- line of a rule (wuhai-2020) reads the netted claims' disease lists. One row per rule, household
-- (member, for member rules) and month.
with months as (
    select distinct
        month_start,
        least(
            cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, 'month_start')) }} as date), {{ as_of() }}
        ) as evaluated_on
    from {{ ref('int_household_months') }}
),

rules as (
    select * from {{ ref('stg_policy__rules') }}
    where policy_id = {{ policy_id() }}
),

judged as (
    select
        r.*,
        mo.month_start,
        mo.evaluated_on,
        {{ window_start('r.window_kind', 'mo.evaluated_on') }} as window_start,
        {{ window_end('r.window_kind', 'mo.evaluated_on') }} as window_end
    from rules as r
    cross join months as mo
),

reversed_later as (
    -- Claims a reversal took back (int_claims_netted leaves both out): until the reversal settled, the
    -- claim counted.
    select
        c.person_id,
        p.household_id,
        c.visit_type,
        c.in_city,
        {{ claim_date('c') }} as claim_date,
        c.settle_date,
        min(r.settle_date) as reversed_on,
        c.self_pay_in_scope + c.self_pay_out_scope as personal_burden,
        c.self_pay_in_scope + c.assistance_paid as assistance_base
    from {{ ref('stg_claims') }} as c
    inner join {{ ref('stg_claims') }} as r on r.reversal_of = c.claim_id
    inner join {{ ref('int_persons_enriched') }} as p on p.person_id = c.person_id
    where c.reversal_of is null and {{ claim_date('c') }} <= {{ as_of() }}
    group by
        c.claim_id, c.person_id, p.household_id, c.visit_type, c.in_city, {{ claim_date('c') }}, c.settle_date,
        c.self_pay_in_scope, c.self_pay_out_scope, c.assistance_paid
),

known_claims as (
    select
        person_id,
        household_id,
        visit_type,
        in_city,
        claim_date,
        settle_date,
        cast(null as date) as reversed_on,
        personal_burden,
        assistance_base
    from {{ ref('int_claims_netted') }}
    union all
    select
        person_id,
        household_id,
        visit_type,
        in_city,
        claim_date,
        settle_date,
        reversed_on,
        personal_burden,
        assistance_base
    from reversed_later
),

rule_claims as (
    -- Summed by the months a claim is dated, settled and reversed: every window is whole months (the
    -- current month's ends on the as-of date, after every landed claim), so month sums judge as claims do.
    select
        r.rule,
        c.household_id,
        case when r.kind = 'member_amount' then c.person_id end as person_id,
        cast({{ dbt.date_trunc('month', 'c.claim_date') }} as date) as claim_month,
        cast({{ dbt.date_trunc('month', 'c.settle_date') }} as date) as settle_month,
        cast({{ dbt.date_trunc('month', 'c.reversed_on') }} as date) as reversed_month,
        sum(case r.amount_kind when 'personal_burden' then c.personal_burden else c.assistance_base end) as amount
    from rules as r
    inner join known_claims as c
        on (not r.in_city_only or c.in_city) and c.settle_date <= {{ as_of() }}
    inner join {{ ref('stg_policy__rule_visit_types') }} as v
        on v.policy_id = r.policy_id and v.rule = r.rule and v.visit_type = c.visit_type
    group by
        r.rule,
        c.household_id,
        case when r.kind = 'member_amount' then c.person_id end,
        cast({{ dbt.date_trunc('month', 'c.claim_date') }} as date),
        cast({{ dbt.date_trunc('month', 'c.settle_date') }} as date),
        cast({{ dbt.date_trunc('month', 'c.reversed_on') }} as date)
),

catastrophic_claims as (
    select distinct
        r.rule,
        c.household_id,
        cast({{ dbt.date_trunc('month', 'c.claim_date') }} as date) as claim_month,
        cast({{ dbt.date_trunc('month', 'c.settle_date') }} as date) as settle_month
    from rules as r
    inner join {{ ref('int_claims_netted') }} as c on c.settle_date <= {{ as_of() }}
    inner join {{ ref('int_claim_diseases') }} as d
        on d.claim_id = c.claim_id and d.disease_list = r.line_catastrophic_list
),

catastrophic_households as (
    select distinct
        j.rule,
        j.month_start,
        c.household_id
    from judged as j
    inner join catastrophic_claims as c
        on
            c.rule = j.rule
            and c.claim_month between j.window_start and j.window_end
            and c.settle_month <= j.month_start
),

members as (
    -- Members holding a category the rule is limited to, on the day judged.
    select distinct
        j.rule,
        j.month_start,
        cat.person_id
    from judged as j
    inner join {{ ref('stg_policy__rule_member_categories') }} as m
        on m.policy_id = j.policy_id and m.rule = j.rule
    inner join {{ ref('stg_assistance_categories') }} as cat
        on cat.category = m.category and j.evaluated_on between cat.valid_from and cat.valid_to
),

units as (
    select
        j.rule,
        j.month_start,
        j.evaluated_on,
        c.household_id,
        c.person_id,
        sum(c.amount) as burden_amount
    from judged as j
    inner join rule_claims as c
        on
            c.rule = j.rule
            and c.claim_month between j.window_start and j.window_end
            and c.settle_month <= j.month_start
            and (c.reversed_month is null or c.reversed_month > j.month_start)
    left join members as m
        on m.rule = j.rule and m.month_start = j.month_start and m.person_id = c.person_id
    where j.kind <> 'member_amount' or m.person_id is not null
    group by j.rule, j.month_start, j.evaluated_on, c.household_id, c.person_id
),

households as (
    select distinct
        household_id,
        month_start,
        evaluated_on
    from units
),

sizes as (
    -- A member counts from their birth on, as in the model's features.
    select
        h.household_id,
        h.month_start,
        count(*) as household_size
    from households as h
    inner join {{ ref('int_persons_enriched') }} as p
        on p.household_id = h.household_id and (p.birth_date is null or p.birth_date <= h.evaluated_on)
    group by h.household_id, h.month_start
),

assessments as (
    select
        h.household_id,
        h.month_start,
        i.annual_disposable_income,
        i.members_without_fixed_income,
        i.assets_within_limit,
        row_number() over (partition by h.household_id, h.month_start order by i.assessed_on desc) as recency
    from households as h
    inner join {{ ref('stg_household_income') }} as i
        on i.household_id = h.household_id and i.assessed_on <= h.evaluated_on
),

parameters as (
    select * from {{ ref('int_parameters_resolved') }}
),

measured as (
    select
        u.rule,
        u.household_id,
        u.person_id,
        u.month_start,
        u.evaluated_on,
        j.kind,
        j.threshold,
        j.comparison,
        j.assets_test,
        j.line_period,
        u.burden_amount,
        s.household_size,
        a.assets_within_limit,
        a.annual_disposable_income
        + coalesce(a.members_without_fixed_income * 12 * imp.parameter_value, 0) as income_amount,
        line.parameter_value
        * case when ch.household_id is not null then j.line_multiplier_catastrophic else 1 end as income_line,
        j.line_parameter is not null and line.parameter_value is null as line_missing,
        residual.parameter_value as residual_line,
        j.residual_line_parameter is not null and residual.parameter_value is null as residual_line_missing
    from units as u
    inner join judged as j on j.rule = u.rule and j.month_start = u.month_start
    inner join sizes as s on s.household_id = u.household_id and s.month_start = u.month_start
    left join assessments as a
        on a.household_id = u.household_id and a.month_start = u.month_start and a.recency = 1
    left join parameters as imp
        on imp.parameter_name = j.impute_parameter and imp.parameter_year = extract(year from u.evaluated_on)
    left join parameters as line
        on
            line.parameter_name = j.line_parameter
            and line.parameter_year = extract(year from u.evaluated_on) + j.line_year_offset
    left join parameters as residual
        on
            residual.parameter_name = j.residual_line_parameter
            and residual.parameter_year = extract(year from u.evaluated_on)
    left join catastrophic_households as ch
        on ch.rule = u.rule and ch.month_start = u.month_start and ch.household_id = u.household_id
),

tested as (
    select
        m.*,
        {{ rule_tests('m') }}
    from measured as m
)

select
    rule,
    household_id,
    person_id,
    month_start,
    evaluated_on,
    burden_amount,
    income_amount,
    household_size,
    meets_threshold,
    meets_income_line,
    meets_assets_test,
    meets_threshold and meets_income_line and meets_assets_test as meets_rule
from tested
