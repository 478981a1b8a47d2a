-- Everyone holding one of the policy's categories on the as-of date, under the category that grants the
-- strongest premium subsidy, with their enrollment for the as-of year and the issue if there is one
-- (not_enrolled, not_subsidized): the gaps list and the subsidised-enrollment rate both read this.
-- Not held yet: a category newly held, before the first day of the calendar month the pack's grace
-- ends in (当月资助参保，次月生效). No issue: where the pack says so, enrollment paid before the
-- category started (subsidised from next year). Never held: categories outside the city's basic
-- insurance by definition.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

held as (
    select
        cat.person_id,
        cat.category,
        cat.valid_from,
        co.category_rank,
        {{ age_on('p.birth_date', as_of()) }} as age_on_as_of,
        p.household_id,
        p.subdistrict_code
    from {{ ref('stg_assistance_categories') }} as cat
    inner join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category = cat.category
    inner join {{ ref('int_persons_enriched') }} as p on p.person_id = cat.person_id
    cross join policy as pol
    where
        {{ as_of() }} between cat.valid_from and cat.valid_to
        and {{ as_of() }} between pol.effective_from and pol.effective_to
        and not coalesce(co.outside_basic_insurance, false)
        and cast({{ dbt.dateadd('month', 'pol.new_member_grace_months', dbt.date_trunc('month', 'cat.valid_from')) }} as date)
        <= {{ as_of() }}
),

granted as (
    select
        h.*,
        g.subsidy as granted_subsidy,
        g.scheme as granted_scheme,
        g.clause as grant_clause,
        case g.subsidy when 'full' then 2 when 'fixed' then 1 else 0 end as grant_strength
    from held as h
    left join {{ ref('stg_policy__subsidy_grants') }} as g
        on
            g.policy_id = {{ policy_id() }} and g.category = h.category
            and {{ as_of() }} between g.valid_from and g.valid_to
            and (g.min_age is null or h.age_on_as_of >= g.min_age)
),

strongest as (
    select
        *,
        row_number() over (partition by person_id order by grant_strength desc, category_rank asc) as pick
    from granted
),

judged as (
    select
        s.*,
        e.scheme,
        e.premium_subsidy,
        case
            when e.person_id is null then 'not_enrolled'
            when
                coalesce(pol.paid_before_subsidized_next_year, false)
                and coalesce(e.enrolled_from, cast({{ dbt.date_trunc('year', as_of()) }} as date)) < s.valid_from
                then null
            when
                s.granted_subsidy is not null and e.scheme = s.granted_scheme
                and case e.premium_subsidy when 'full' then 2 when 'fixed' then 1 else 0 end < s.grant_strength
                then 'not_subsidized'
        end as issue
    from strongest as s
    left join {{ ref('int_enrollment_by_year') }} as e
        on e.person_id = s.person_id and e.enrollment_year = extract(year from {{ as_of() }})
    cross join policy as pol
    where s.pick = 1
)


select
    *,
    granted_subsidy is not null as subsidy_due
from judged
