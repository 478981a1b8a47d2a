-- enrollment_gaps.csv: people holding one of the policy's categories on the as-of date who are not
-- enrolled for the as-of year, or are enrolled without the premium subsidy the policy grants them.
select
    person_id,
    category,
    issue,
    cast(extract(year from {{ as_of() }}) as integer) as year,
    case issue
        when 'not_enrolled' then '救助对象当年未参加基本医疗保险，应协助资助参保'
        else '已参保但未享受应有的个人缴费资助（' || case granted_subsidy when 'full' then '全额资助' else '定额资助' end || '）'
    end as reason,
    granted_subsidy,
    premium_subsidy as enrolled_subsidy,
    household_id,
    subdistrict_code
from {{ ref('int_enrollment_due') }}
where issue is not null
