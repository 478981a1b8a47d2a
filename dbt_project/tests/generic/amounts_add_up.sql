{#- The contract's identities, to the cent: total = scope + out-of-scope self-pay;
    scope = fund + critical illness + other + assistance + in-scope self-pay. -#}
{% test amounts_add_up(model) %}
select claim_id
from {{ model }}
where total_cost <> policy_scope_cost + self_pay_out_scope
   or policy_scope_cost <> basic_fund_paid + critical_illness_paid + other_paid + assistance_paid + self_pay_in_scope
{% endtest %}
