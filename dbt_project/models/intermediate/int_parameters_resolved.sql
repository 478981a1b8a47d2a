-- Yearly city figures: a row of the parameters feed wins over the city default of the policy's city.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

feed as (
    select parameter_name, parameter_year, parameter_value, 'parameters feed' as source
    from {{ ref('stg_parameters') }}
),

defaults as (
    select d.parameter_name, d.parameter_year, d.parameter_value, d.source
    from {{ ref('stg_policy__parameter_defaults') }} as d
    inner join policy as p on p.city = d.city
)

select * from feed
union all
select d.*
from defaults as d
left join feed as f
    on f.parameter_name = d.parameter_name and f.parameter_year = d.parameter_year
where f.parameter_name is null
