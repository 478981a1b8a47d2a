-- Each household's out-of-pocket spending (personal burden: self-pay in and out of scope, every facility)
-- over the 12 whole months before the as-of month: the numerator of every hardship measure.
select
    c.household_id,
    sum(c.personal_burden) as oop_amount,
    count(*) as claims
from {{ ref('int_claims_netted') }} as c
where c.claim_date between {{ window_start("'trailing_12_whole_months'") }} and {{ window_end("'trailing_12_whole_months'") }}
group by c.household_id
having sum(c.personal_burden) > 0
