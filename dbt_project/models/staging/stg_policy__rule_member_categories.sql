select policy_id, rule, cast(category as varchar) as category from {{ source('policy', 'rule_member_categories') }}
