-- What the trail was computed for: the as-of date, the policy and the span of claims delivered by
-- then, so `explain` can tell a date outside the data from a household without claims.
select
    {{ as_of() }} as as_of,
    {{ policy_id() }} as policy_id,
    (select min(settle_date) from {{ ref('stg_claims') }}) as first_settle_date,
    (select max(settle_date) from {{ ref('stg_claims') }}) as last_settle_date,
    (select max(delivered_on) from {{ ref('stg_claims') }}) as last_delivered_on
