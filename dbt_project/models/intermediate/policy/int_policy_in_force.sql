-- The configured policy (var policy_id): one row.
select *
from {{ ref('stg_policy__policies') }}
where policy_id = {{ policy_id() }}
