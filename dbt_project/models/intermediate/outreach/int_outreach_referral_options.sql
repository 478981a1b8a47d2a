-- seed 001, 二(四)1: households not covered by medical assistance, or still over the referral line
-- after the assistance due to them, may be referred to a charity. One row per such household, member
-- treated in the last 12 months and programme whose ages and diagnosis prefixes fit that member, ranked
-- in the order they are tried: the member with the heaviest burden first, specific programmes before
-- general ones. Capacity and consent depend on earlier nights, so the case logic picks among these.
with heavy as (
    select
        household_id,
        max(burden_amount) as burden_amount,
        max(income_amount) as income_amount
    from {{ ref('int_outreach_flags') }}
    where list_kind = 'candidate' or (list_kind = 'warning' and level >= 2)
    group by household_id
),

assisted as (
    select
        household_id,
        sum(expected_assistance) as expected_assistance
    from {{ ref('fct_entitlements') }}
    where year >= extract(year from {{ as_of() }}) - 1
    group by household_id
),

needs as (
    select
        h.household_id,
        h.burden_amount,
        h.income_amount,
        coalesce(a.expected_assistance, 0) as expected_assistance
    from heavy as h
    left join assisted as a on a.household_id = h.household_id
    where
        h.income_amount > 0
        and (
            coalesce(a.expected_assistance, 0) = 0
            or (h.burden_amount - a.expected_assistance) / h.income_amount
            >= {{ var('outreach_referral_ratio_after_assistance') }}
        )
),

patients as (
    select
        c.household_id,
        c.person_id,
        max(c.age_at_claim) as age,
        sum(c.personal_burden) as burden_12_months
    from {{ ref('int_claims_netted') }} as c
    inner join needs as n on n.household_id = c.household_id
    where c.claim_date >= cast({{ dbt.dateadd('month', -12, as_of()) }} as date)
    group by c.household_id, c.person_id
),

diagnoses as (
    select
        c.person_id,
        {{ dbt.listagg('c.diagnosis_code', "';'", 'order by c.diagnosis_code') }} as diagnoses
    from (
        select distinct
            n.person_id,
            n.diagnosis_code
        from {{ ref('int_claims_netted') }} as n
        inner join patients as p on p.person_id = n.person_id
        where
            n.claim_date >= cast({{ dbt.dateadd('month', -12, as_of()) }} as date)
            and n.diagnosis_code is not null
    ) as c
    group by c.person_id
),

fits as (
    select
        p.household_id,
        p.person_id,
        p.age,
        p.burden_12_months,
        g.program_id,
        g.program_name,
        g.max_amount,
        g.diagnosis_prefixes = '' as is_general
    from patients as p
    cross join {{ ref('stg_charity_programs') }} as g
    where
        (g.min_age is null or p.age >= g.min_age)
        and (g.max_age is null or p.age <= g.max_age)
        and (g.diagnosis_prefixes = '' or exists (
            select 1
            from {{ ref('int_claims_netted') }} as c
            where
                c.person_id = p.person_id
                and c.claim_date >= cast({{ dbt.dateadd('month', -12, as_of()) }} as date)
                -- one of the code's leading parts (C, C3, C34, C34.) is one of the programme's prefixes
                and (
                    false
                    {%- for length in range(1, 9) %}
                        or {{ dbt.position(dbt.concat(["';'", "substring(c.diagnosis_code, 1, " ~ length ~ ")", "';'"]),
                                       dbt.concat(["';'", "g.diagnosis_prefixes", "';'"])) }} > 0
                    {%- endfor %}
                )
        ))
)

select
    f.household_id,
    f.person_id,
    f.age,
    {{ money('f.burden_12_months') }} as burden_12_months,
    d.diagnoses,
    f.program_id,
    f.program_name,
    f.max_amount,
    {{ money('n.burden_amount') }} as household_burden,
    {{ money('n.income_amount') }} as household_income,
    {{ money('n.expected_assistance') }} as expected_assistance,
    case when n.expected_assistance = 0 then '不属于医疗救助对象' else '救助后负担仍然较重' end as need_zh,
    row_number() over (
        partition by f.household_id
        order by f.burden_12_months desc, f.person_id asc, case when f.is_general then 1 else 0 end, f.program_id asc
    ) as option_rank
from fits as f
inner join needs as n on n.household_id = f.household_id
left join diagnoses as d on d.person_id = f.person_id
