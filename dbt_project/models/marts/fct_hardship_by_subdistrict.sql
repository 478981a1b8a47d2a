-- The hardship measures counted side by side per sub-district, for the summary page: households that meet
-- each measure, and households that could be judged by it.
select
    subdistrict_code,
    measure,
    label_zh,
    sum(case when met then 1 else 0 end) as households_met,
    sum(case when met is not null then 1 else 0 end) as households_judged
from {{ ref('fct_hardship_measures') }}
group by subdistrict_code, measure, label_zh
