{#- The trail's counted claims add up, to the cent, to the burden each rule was tested with:
    one calculation, whichever way it is read. kept_by: see rows_to_check. The burdens come from a model kept
    by household (int_rule_measures), the claims from models kept by person, whose households are
    recomputed with them: an incremental night checks the households it recomputed. -#}
{% test counted_claims_make_the_burden(model, claims, kept_by=none) %}
select r.rule, r.household_id, r.person_id, r.burden_amount, sum(c.amount) as counted
from {{ rows_to_check(model, ['household_id'], kept_by) }} as r
left join {{ claims }} as c
    on c.rule = r.rule and c.household_id = r.household_id and c.is_counted
    and (r.person_id is null or c.person_id = r.person_id)
group by r.rule, r.household_id, r.person_id, r.burden_amount
having abs(coalesce(sum(c.amount), 0) - r.burden_amount) >= 0.005
{% endtest %}
