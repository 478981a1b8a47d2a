{#- The three tests of an identification rule, from one measured row (`m`: burden_amount, income_amount,
    household_size, the rule's kind/threshold/comparison, its income line and residual line, and the
    household's asset verdict). One definition for the nightly candidates (int_rule_measures) and for the
    month-end verdicts the early-warning model learns from (int_rule_verdicts_monthly). -#}
{% macro rule_tests(m) -%}
    case
        when {{ m }}.kind = 'member_amount' then
            case {{ m }}.comparison
                when '>=' then {{ m }}.burden_amount >= {{ m }}.threshold
                else {{ m }}.burden_amount > {{ m }}.threshold
            end
        when {{ m }}.income_amount is null or {{ m }}.income_amount < 0 or {{ m }}.burden_amount <= 0 then false
        when {{ m }}.kind = 'burden_ratio' then
            case {{ m }}.comparison
                when '>=' then {{ m }}.burden_amount >= {{ m }}.threshold * {{ m }}.income_amount
                else {{ m }}.burden_amount > {{ m }}.threshold * {{ m }}.income_amount
            end
        when {{ m }}.kind = 'residual_income_below_line' then
            -- The burden must be what pushes the household under the line (导致): income alone is not.
            not {{ m }}.residual_line_missing
            and {{ divide('(' ~ m ~ '.income_amount - ' ~ m ~ '.burden_amount)', m ~ '.household_size') }} / 12 < {{ m }}.residual_line
            and {{ divide(m ~ '.income_amount', m ~ '.household_size') }} / 12 >= {{ m }}.residual_line
    end as meets_threshold,
    case
        when {{ m }}.kind = 'member_amount' then true
        when {{ m }}.income_line is null then not {{ m }}.line_missing
        when {{ m }}.line_period = 'monthly' then {{ divide(m ~ '.income_amount', m ~ '.household_size') }} / 12 < {{ m }}.income_line
        else {{ divide(m ~ '.income_amount', m ~ '.household_size') }} < {{ m }}.income_line
    end as meets_income_line,
    case when {{ m }}.assets_test then coalesce({{ m }}.assets_within_limit, false) else true end as meets_assets_test
{%- endmacro %}
