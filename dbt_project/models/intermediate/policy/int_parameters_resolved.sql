-- Yearly city figures: a row of the parameters feed wins over the city default of the policy's city.
-- A year with no figure up to the as-of year takes the latest earlier year's (carried forward,
-- with carried_forward_from_year saying from when), so no rule or cap goes silent for want of a
-- figure not yet published.
with policy as (
    select * from {{ ref('int_policy_in_force') }}
),

feed as (
    select
        parameter_name,
        parameter_year,
        parameter_value,
        'parameters feed' as source
    from {{ ref('stg_parameters') }}
),

defaults as (
    select
        d.parameter_name,
        d.parameter_year,
        d.parameter_value,
        d.source
    from {{ ref('stg_policy__parameter_defaults') }} as d
    inner join policy as p on p.city = d.city
),

published as (
    select * from feed
    union all
    select d.*
    from defaults as d
    left join feed as f
        on f.parameter_name = d.parameter_name and f.parameter_year = d.parameter_year
    where f.parameter_name is null
),

digits as (
    {% for digit in range(10) %}
        select {{ digit }} as d
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

offsets as (
    select (hundreds.d * 10 + tens.d) * 10 + ones.d as year_offset
    from digits as hundreds cross join digits as tens cross join digits as ones
),

spans as (
    -- Every year from a figure's first published year to the as-of year (or its last published year).
    select
        parameter_name,
        min(parameter_year) as first_year,
        greatest(max(parameter_year), cast(extract(year from {{ as_of() }}) as integer)) as last_year
    from published
    group by parameter_name
),

years as (
    select
        s.parameter_name,
        s.first_year + o.year_offset as parameter_year
    from spans as s
    inner join offsets as o on s.first_year + o.year_offset <= s.last_year
),

latest_published as (
    select
        y.parameter_name,
        y.parameter_year,
        max(p.parameter_year) as published_year
    from years as y
    inner join published as p
        on p.parameter_name = y.parameter_name and p.parameter_year <= y.parameter_year
    group by y.parameter_name, y.parameter_year
)

select
    l.parameter_name,
    l.parameter_year,
    p.parameter_value,
    p.source,
    case when l.published_year < l.parameter_year then l.published_year end as carried_forward_from_year
from latest_published as l
inner join published as p
    on p.parameter_name = l.parameter_name and p.parameter_year = l.published_year
