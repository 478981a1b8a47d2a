-- entitlements.csv: each person's expected assistance per year and benefit under the policy, with
-- what was already paid and, when less is due than the base suggests, why (in Chinese).
with claim_benefits as (
    select * from {{ ref('int_claim_benefits') }}
),

policy_categories as (
    select
        cat.*,
        co.category_rank
    from {{ ref('stg_assistance_categories') }} as cat
    inner join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category = cat.category
),

claim_totals as (
    select
        person_id,
        claim_year,
        benefit,
        sum(base_amount) as base_amount,
        sum(assistance_paid) as paid_assistance,
        sum(case when is_covered then 0 else base_amount end) as uncovered_base,
        max(case when is_covered then 1 else 0 end) = 1 as any_covered
    from claim_benefits
    group by person_id, claim_year, benefit
),

year_category as (
    -- The most generous of the policy's categories the person held at any time in the year.
    select
        person_id,
        claim_year,
        category
    from (
        select
            t.person_id,
            t.claim_year,
            c.category,
            row_number() over (partition by t.person_id, t.claim_year order by c.category_rank) as pick
        from (select distinct
            person_id,
            claim_year
        from claim_totals) as t
        inner join policy_categories as c
            on
                c.person_id = t.person_id
                and c.valid_from <= cast({{ dbt.concat(["cast(t.claim_year as " ~ dbt.type_string() ~ ")", "'-12-31'"]) }} as date)
                and c.valid_to >= cast({{ dbt.concat(["cast(t.claim_year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) }} as date)
    ) as ranked
    where pick = 1
),

tracks as (
    select
        person_id,
        claim_year,
        benefit,
        min(category_rank) as category_rank,
        sum(final_amount) as expected_assistance,
        max(case when annual_cap_binding then annual_cap end) as binding_annual_cap,
        max(case when combined_cap_binding then combined_cap end) as binding_combined_cap,
        max(case when daily_cap_binding then 1 else 0 end) = 1 as daily_cap_binding,
        max(case when monthly_limit_binding then 1 else 0 end) = 1 as monthly_limit_binding,
        max(case when has_deductible then 1 else 0 end) = 1 as has_deductible,
        max(case when deductible_unknown then 1 else 0 end) = 1 as deductible_unknown
    from {{ ref('int_entitlement_tracks') }}
    group by person_id, claim_year, benefit
),

claim_based as (
    select
        t.person_id,
        t.claim_year as entitlement_year,
        t.benefit,
        coalesce(co.category, y.category) as category,
        t.base_amount,
        -- In cents, as the union with the cash allowances makes it in DuckDB; explicit for every engine.
        {{ money('coalesce(k.expected_assistance, 0)') }} as expected_assistance,
        t.paid_assistance,
        {{ dbt.concat([
            "case when not t.any_covered then '该救助身份不享受此项救助；' else '' end",
            "case when t.any_covered and t.uncovered_base > 0 then '部分费用发生时不在救助身份有效期内或不属救助范围；' else '' end",
            "case when k.binding_annual_cap is not null then '已达年度救助限额' || cast(" ~ whole_number('k.binding_annual_cap') ~ " as " ~ dbt.type_string() ~ ") || '元；' else '' end",
            "case when k.binding_combined_cap is not null then '已达年度合计救助限额' || cast(" ~ whole_number('k.binding_combined_cap') ~ " as " ~ dbt.type_string() ~ ") || '元；' else '' end",
            "case when k.daily_cap_binding then '单日救助金额超过限额的部分不予救助；' else '' end",
            "case when k.monthly_limit_binding then '每月救助次数已满，超出的就诊不予救助；' else '' end",
            "case when k.has_deductible then '扣除起付标准后计算；' else '' end",
            "case when k.deductible_unknown then '缺少起付标准参数，暂无法计算；' else '' end",
        ]) }} as reason
    from claim_totals as t
    inner join year_category as y on y.person_id = t.person_id and y.claim_year = t.claim_year
    left join tracks as k on k.person_id = t.person_id and k.claim_year = t.claim_year and k.benefit = t.benefit
    left join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category_rank = k.category_rank
),

cash as (
    select
        person_id,
        entitlement_year,
        benefit,
        category,
        base_amount,
        expected_assistance,
        cast(null as decimal(18, 2)) as paid_assistance,
        case when limited_by_costs then '补贴以当年门急诊个人负担费用为限；' else '' end as reason
    from {{ ref('int_cash_entitlements') }}
),

all_rows as (
    select * from claim_based
    union all
    select * from cash
)

select
    a.person_id,
    a.entitlement_year as year,
    a.benefit,
    a.category,
    {{ money('a.base_amount') }} as base_amount,
    {{ money('a.expected_assistance') }} as expected_assistance,
    {{ money('a.paid_assistance') }} as paid_assistance,
    {{ money('a.expected_assistance - coalesce(a.paid_assistance, 0)') }} as unpaid_assistance,
    case when a.reason = '' then null else substring(a.reason, 1, length(a.reason) - 1) end as reason,
    p.household_id,
    p.subdistrict_code
from all_rows as a
inner join {{ ref('int_persons_enriched') }} as p on p.person_id = a.person_id
