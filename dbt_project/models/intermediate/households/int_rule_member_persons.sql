-- The persons a member rule sums: members holding, on the as-of date, a category the rule is limited to.
-- int_rule_measures and its trail (fct_trail_claims) read the same members from here.
select distinct
    m.rule,
    cat.person_id
from {{ ref('stg_policy__rule_member_categories') }} as m
inner join {{ ref('stg_assistance_categories') }} as cat
    on cat.category = m.category and {{ as_of() }} between cat.valid_from and cat.valid_to
where m.policy_id = {{ policy_id() }}
