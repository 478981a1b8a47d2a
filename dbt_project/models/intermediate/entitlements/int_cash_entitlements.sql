-- Yearly cash allowances (Wuhai's outpatient cash, the mutual-aid outpatient subsidy): who qualifies
-- on the day the pack says the year is judged (else any day of the year up to the as-of date),
-- the highest item only, and for allowances paid against costs, no more than those costs (before
-- any assistance paid on them). An allowance paid from the subsidised-enrollment roster goes only
-- to people enrolled that year in the resident scheme with a premium subsidy.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

items as (
    select * from {{ ref('stg_policy__cash_items') }}
    where policy_id = {{ policy_id() }}
),

years as (
    select distinct claim_year as entitlement_year from {{ ref('int_claims_netted') }}
    union
    select cast(extract(year from {{ as_of() }}) as integer)
),

judged as (
    select
        i.*,
        y.entitlement_year,
        case
            when i.judged_on_month_day is not null then
                least(
                    cast(
                        {{ dbt.concat(["cast(y.entitlement_year as " ~ dbt.type_string() ~ ")", "'-'", "i.judged_on_month_day"]) }} as date
                    ),
                    {{ as_of() }}
                )
        end as judged_on,
        cast({{ dbt.concat(["cast(y.entitlement_year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) }} as date) as year_start,
        least(cast({{ dbt.concat(["cast(y.entitlement_year as " ~ dbt.type_string() ~ ")", "'-12-31'"]) }} as date), {{ as_of() }})
            as year_end
    from items as i
    cross join years as y
    inner join policy as p
        on y.entitlement_year between extract(year from p.effective_from) and extract(year from p.effective_to)
    where cast({{ dbt.concat(["cast(y.entitlement_year as " ~ dbt.type_string() ~ ")", "'-01-01'"]) }} as date) <= {{ as_of() }}
),

holders as (
    select
        j.*,
        cat.person_id,
        cat.dibao_class as held_dibao_class,
        coalesce(j.judged_on, j.year_end) as age_day
    from judged as j
    inner join {{ ref('stg_assistance_categories') }} as cat
        on
            cat.category = j.category
            and cat.valid_from <= coalesce(j.judged_on, j.year_end)
            and cat.valid_to >= coalesce(j.judged_on, j.year_start)
            and coalesce(j.judged_on, j.year_end) between j.valid_from and j.valid_to
),

disability as (
    select
        person_id,
        valid_from,
        valid_to,
        disability_grade
    from {{ ref('stg_assistance_categories') }}
    where disability_grade is not null
),

qualifying as (
    select
        h.person_id,
        h.entitlement_year,
        h.benefit,
        h.category,
        h.item_no,
        h.amount,
        h.label_zh,
        h.clause,
        h.against_visit_types,
        h.year_start,
        h.year_end
    from holders as h
    inner join {{ ref('int_persons_enriched') }} as p on p.person_id = h.person_id
    where
        (h.dibao_class is null or h.held_dibao_class = h.dibao_class)
        and (not h.subsidized_enrollment_only or exists (
            select 1 from {{ ref('int_enrollment_by_year') }} as e
            where
                e.person_id = h.person_id and e.enrollment_year = h.entitlement_year
                and e.scheme = 'resident' and e.premium_subsidy <> 'none'
        ))
        and (
            (h.min_age_male is null and h.min_age_female is null)
            or (p.sex = 'M' and h.min_age_male is not null and {{ age_on('p.birth_date', 'h.age_day') }} >= h.min_age_male)
            or (p.sex = 'F' and h.min_age_female is not null and {{ age_on('p.birth_date', 'h.age_day') }} >= h.min_age_female)
        )
        and (h.max_disability_grade is null or exists (
            select 1 from disability as d
            where
                d.person_id = h.person_id and d.disability_grade <= h.max_disability_grade
                and h.age_day between d.valid_from and d.valid_to
        ))
),

highest as (
    select
        *,
        row_number() over (partition by person_id, entitlement_year, benefit order by amount desc, item_no asc) as amount_rank
    from qualifying
),

costs as (
    -- Costs an allowance is paid against: the person's personal burden on those visit types that year.
    select
        h.person_id,
        h.entitlement_year,
        h.benefit,
        sum(c.personal_burden + c.assistance_paid) as cost_amount,
        sum(c.assistance_paid) as paid_amount
    from highest as h
    inner join {{ ref('int_claims_netted') }} as c
        on
            c.person_id = h.person_id and c.claim_year = h.entitlement_year
            and {{ dbt.position("c.visit_type", "h.against_visit_types") }} > 0
    where h.amount_rank = 1 and h.against_visit_types <> ''
    group by h.person_id, h.entitlement_year, h.benefit
)

select
    h.person_id,
    h.entitlement_year,
    h.benefit,
    h.category,
    h.label_zh as item_label,
    h.clause,
    case when h.against_visit_types <> '' then coalesce(c.cost_amount, 0) else h.amount end as base_amount,
    case when h.against_visit_types <> '' then least(h.amount, coalesce(c.cost_amount, 0)) else h.amount end as expected_assistance,
    h.amount as allowance_amount,
    h.against_visit_types <> '' and coalesce(c.cost_amount, 0) < h.amount as limited_by_costs
from highest as h
left join costs as c
    on c.person_id = h.person_id and c.entitlement_year = h.entitlement_year and c.benefit = h.benefit
where h.amount_rank = 1
