select policy_id, rule, cast(category as {{ dbt.type_string() }}) as category from {{ source('policy', 'rule_member_categories') }}
