{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id') }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- The trail of each identification rule's burden: every claim of a household from the start of the
-- year the rule's window opens in up to the as-of date, counted or not and why. The counted claims
-- are exactly the ones int_rule_measures sums (a data test holds the two together). A claim's row
-- depends only on its person's rows, the rule windows and the members on the as-of date, so a night
-- recomputes only the changed persons (kept_between_nights): windows hold within the as-of month
-- (transform.inputs_fingerprint) and a category starting or ending changes its holder. The window itself
-- (up to the as-of date for year_to_date) is on fct_trail_rules, not repeated on each claim. Counted
-- claims are read from int_claims_netted itself, so the trail cannot see another set.
with rules as (
    select * from {{ ref('int_rule_windows') }}
),

reversed as (
    select distinct reversal_of as claim_id from {{ ref('stg_claims') }}
    where reversal_of is not null
),

all_claims as (
    -- Netted claims as the models see them, and the reversed pairs they leave out, dated the same way.
    select
        claim_id,
        person_id,
        household_id,
        visit_type,
        admit_date,
        discharge_date,
        settle_date,
        claim_date,
        in_city,
        total_cost,
        policy_scope_cost,
        basic_fund_paid,
        assistance_paid,
        self_pay_in_scope,
        self_pay_out_scope,
        cast(null as {{ dbt.type_string() }}) as reversal_of,
        false as is_reversed
    from {{ ref('int_claims_netted') }}
    where {{ is_changed('person_id', 'person_id') }}
    union all
    select
        s.claim_id,
        s.person_id,
        p.household_id,
        s.visit_type,
        s.admit_date,
        s.discharge_date,
        s.settle_date,
        {{ claim_date('s') }} as claim_date,
        s.in_city,
        s.total_cost,
        s.policy_scope_cost,
        s.basic_fund_paid,
        s.assistance_paid,
        s.self_pay_in_scope,
        s.self_pay_out_scope,
        s.reversal_of,
        true as is_reversed
    from {{ ref('stg_claims') }} as s
    inner join {{ ref('int_persons_enriched') }} as p on p.person_id = s.person_id
    left join reversed as r on r.claim_id = s.claim_id
    where
        (s.reversal_of is not null or r.claim_id is not null)
        and {{ is_changed('s.person_id', 'person_id') }}
),

members as (
    -- The same members int_rule_measures sums for a member rule.
    select * from {{ ref('int_rule_member_persons') }}
),

classified as (
    select
        r.rule,
        c.*,
        r.window_start,
        r.window_end,
        r.amount_kind,
        case r.amount_kind
            when 'personal_burden' then c.self_pay_in_scope + c.self_pay_out_scope
            else c.self_pay_in_scope + c.assistance_paid
        end as amount,
        case
            when c.is_reversed then 'reversed'
            when c.claim_date not between r.window_start and r.window_end then 'out_of_window'
            when r.in_city_only and not c.in_city then 'out_of_city'
            when v.visit_type is null then 'visit_type_not_counted'
            when r.kind = 'member_amount' and m.person_id is null then 'member_not_in_category'
        end as exclusion_reason
    from rules as r
    inner join all_claims as c
        on c.claim_date between cast({{ dbt.date_trunc('year', 'r.window_start') }} as date) and {{ as_of() }}
    left join {{ ref('stg_policy__rule_visit_types') }} as v
        on v.policy_id = r.policy_id and v.rule = r.rule and v.visit_type = c.visit_type
    left join members as m on m.rule = r.rule and m.person_id = c.person_id
)

select
    rule,
    household_id,
    person_id,
    claim_id,
    claim_date,
    visit_type,
    admit_date,
    discharge_date,
    settle_date,
    in_city,
    total_cost,
    policy_scope_cost,
    basic_fund_paid,
    assistance_paid,
    self_pay_in_scope,
    self_pay_out_scope,
    reversal_of,
    amount_kind,
    amount,
    exclusion_reason is null as is_counted,
    exclusion_reason
from classified
