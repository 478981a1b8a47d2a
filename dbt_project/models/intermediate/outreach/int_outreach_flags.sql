-- Every reason tonight to reach a household, one row per list and flagged member (or per household,
-- for household-level flags), with its severity (1 低, 2 中, 3 高), amounts, reason and suggested action.
-- Severity: a household meeting an assistance rule now (支出型贫困) is 高; a missing subsidy or unpaid
-- assistance is 中 (money already due); warnings take their level's rank among the policy's levels.
-- A household under the dibao line on income alone, with no dibao/tekun member (疑似低保未覆盖), is 中: a
-- dibao matter for civil affairs, not expenditure poverty. A new list is one more union-all branch here
-- with its list_kind; see poverty_warning/publish/workbook.py for the sheet.
with warning_ranks as (
    select
        warning_level,
        cast(row_number() over (order by ratio) as integer) as level
    from {{ ref('stg_policy__warning_levels') }}
    where policy_id = {{ policy_id() }}
),

unpaid as (
    select
        e.person_id,
        e.household_id,
        sum(e.expected_assistance) as expected_assistance,
        sum(coalesce(e.paid_assistance, 0)) as paid_assistance,
        sum(e.unpaid_assistance) as unpaid_assistance,
        {{ dbt.listagg('b.benefit_name_zh', "'、'", 'order by e.benefit') }} as benefits_zh
    from {{ ref('fct_entitlements') }} as e
    inner join {{ ref('stg_policy__benefit_names') }} as b on b.benefit = e.benefit
    where
        e.year >= extract(year from {{ as_of() }}) - 1
        and e.unpaid_assistance >= {{ var('outreach_unpaid_min_amount') }}
    group by e.person_id, e.household_id
)

select
    'enrollment_gap' as list_kind,
    g.household_id,
    g.person_id,
    2 as level,
    cast(null as decimal(18, 2)) as burden_amount,
    cast(null as decimal(18, 2)) as income_amount,
    cast(null as decimal(10, 4)) as burden_ratio,
    cast(null as decimal(18, 2)) as expected_assistance,
    cast(null as decimal(18, 2)) as paid_assistance,
    cast(null as decimal(18, 2)) as unpaid_assistance,
    g.reason as reason_zh,
    case g.issue
        when 'not_enrolled' then '协助办理城乡居民医保参保登记，并落实资助'
        else '核对资助参保名单，补办个人缴费资助'
    end as action_zh
from {{ ref('fct_enrollment_gaps') }} as g

union all

select
    'candidate' as list_kind,
    c.household_id,
    c.person_id,
    3 as level,
    c.burden_amount,
    c.income_amount,
    c.burden_ratio,
    null,
    null,
    null,
    {{ dbt.concat(['r.rule_name_zh', "'：'", 'c.reason']) }},
    '入户核实家庭收入、财产与医疗支出，指导申请支出型贫困救助'
from {{ ref('fct_candidates') }} as c
inner join {{ ref('stg_policy__rule_names') }} as r on r.rule = c.rule

union all

select
    'unpaid' as list_kind,
    u.household_id,
    u.person_id,
    2 as level,
    null,
    null,
    null,
    {{ money('u.expected_assistance') }},
    {{ money('u.paid_assistance') }},
    {{ money('u.unpaid_assistance') }},
    {{ dbt.concat(["'按政策应得'", 'u.benefits_zh', "cast(" ~ money('u.expected_assistance') ~ " as " ~ dbt.type_string() ~ ")",
                   "'元，已支付'", "cast(" ~ money('u.paid_assistance') ~ " as " ~ dbt.type_string() ~ ")", "'元'"]) }},
    '核实救助待遇是否已申请，协助补办医疗救助'
from unpaid as u

union all

select
    'warning' as list_kind,
    w.household_id,
    cast(null as {{ dbt.type_string() }}) as person_id,
    k.level,
    w.burden_amount,
    w.income_amount,
    w.burden_ratio,
    null,
    null,
    null,
    {{ dbt.concat(['w.warning_label', "'：近期医疗费用负担占家庭年收入'",
                   "cast(cast(round(w.burden_ratio * 100, 1) as decimal(10, 1)) as " ~ dbt.type_string() ~ ")", "'%'"]) }},
    case k.level
        when 3 then '尽快入户，协助申请医疗救助和临时救助'
        when 2 then '入户走访，评估救助需求'
        else '电话了解近况，持续关注'
    end
from {{ ref('fct_household_warnings') }} as w
inner join warning_ranks as k on k.warning_level = w.warning_level

union all

select
    'dibao_uncovered' as list_kind,
    d.household_id,
    cast(null as {{ dbt.type_string() }}) as person_id,
    2 as level,
    null,
    d.income_amount,
    null,
    null,
    null,
    null,
    d.reason,
    '入户核实家庭收入与财产，符合条件的指导申请最低生活保障'
from {{ ref('fct_suspected_dibao_uncovered') }} as d
