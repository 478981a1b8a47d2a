select
    claim_id,
    person_id,
    visit_type,
    cast(admit_date as date) as admit_date,
    cast(discharge_date as date) as discharge_date,
    cast(settle_date as date) as settle_date,
    hospital_id,
    cast(hospital_level as integer) as hospital_level,
    coalesce(in_city, true) as in_city,
    diagnosis_code,
    cast(total_cost as decimal(18, 2)) as total_cost,
    cast(policy_scope_cost as decimal(18, 2)) as policy_scope_cost,
    cast(basic_fund_paid as decimal(18, 2)) as basic_fund_paid,
    cast(critical_illness_paid as decimal(18, 2)) as critical_illness_paid,
    cast(assistance_paid as decimal(18, 2)) as assistance_paid,
    cast(coalesce(other_paid, 0) as decimal(18, 2)) as other_paid,
    cast(self_pay_in_scope as decimal(18, 2)) as self_pay_in_scope,
    cast(self_pay_out_scope as decimal(18, 2)) as self_pay_out_scope,
    reversal_of,
    _delivery_date as delivered_on,
    _night as landed_on
from {{ source('raw', 'claims') }}
where _delivery_date <= {{ as_of() }}
