-- The policy's identification rules, each with the window it sums claims over on the as-of date.
-- int_rule_measures and its trail (fct_trail_claims) read the same windows from here.
select
    r.*,
    {{ window_start('r.window_kind') }} as window_start,
    {{ window_end('r.window_kind') }} as window_end
from {{ ref('stg_policy__rules') }} as r
where r.policy_id = {{ policy_id() }}
