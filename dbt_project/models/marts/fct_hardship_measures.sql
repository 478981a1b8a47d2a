-- hardship_measures.csv: each household with out-of-pocket spending, measured by every hardship measure
-- (SDG 3.8.2 at 10% and 25%, capacity to pay, the national monitoring line) and by the city's own rule
-- (met when the household is in fct_candidates), one row per household and measure.
with households as (
    select
        o.household_id,
        o.oop_amount,
        i.subdistrict_code,
        i.household_size,
        i.annual_disposable_income as income_amount
    from {{ ref('int_household_oop_trailing_12m') }} as o
    inner join {{ ref('int_household_income_as_of') }} as i on i.household_id = o.household_id
),

parameters as (
    select * from {{ ref('int_parameters_resolved') }}
),

measured as (
    select
        h.household_id,
        h.subdistrict_code,
        m.measure,
        m.label_zh,
        m.kind,
        m.threshold,
        m.comparison,
        h.oop_amount,
        h.income_amount,
        -- The amount the threshold applies to: income, capacity to pay, or the city's income line.
        case m.kind
            when 'share_of_income' then h.income_amount
            when 'share_of_capacity_to_pay' then h.income_amount - sub.parameter_value * 12 * h.household_size
            when 'share_of_city_income' then line.parameter_value
        end as reference_amount,
        m.kind = 'share_of_capacity_to_pay' and sub.parameter_value is null
        or m.kind = 'share_of_city_income' and line.parameter_value is null as figure_missing
    from households as h
    cross join {{ ref('stg_policy__hardship_measures') }} as m
    left join parameters as sub
        on sub.parameter_name = m.subsistence_parameter and sub.parameter_year = extract(year from {{ as_of() }})
    left join parameters as line
        on
            line.parameter_name = m.line_parameter
            and line.parameter_year = extract(year from {{ as_of() }}) + m.line_year_offset
),

judged as (
    select
        m.*,
        case
            when m.figure_missing then null
            when m.kind <> 'share_of_city_income' and m.income_amount is null then null
            -- No income, or no capacity to pay above subsistence: any out-of-pocket spending is catastrophic.
            when m.kind <> 'share_of_city_income' and m.reference_amount <= 0 then true
            when m.comparison = '>=' then m.oop_amount >= m.threshold * m.reference_amount
            else m.oop_amount > m.threshold * m.reference_amount
        end as met
    from measured as m
),

city_rule as (
    select
        h.household_id,
        h.subdistrict_code,
        'city_rule' as measure,
        '本市支出型贫困认定规则' as label_zh,
        'city_rule' as kind,
        cast(null as decimal(9, 4)) as threshold,
        cast(null as {{ dbt.type_string() }}) as comparison,
        h.oop_amount,
        h.income_amount,
        cast(null as decimal(18, 2)) as reference_amount,
        false as figure_missing,
        -- A household without an income assessment cannot be judged, unless a member rule found it anyway.
        case when c.household_id is not null then true when h.income_amount is not null then false end as met
    from households as h
    left join (select distinct household_id from {{ ref('fct_candidates') }}) as c on c.household_id = h.household_id
)

select
    household_id,
    subdistrict_code,
    measure,
    label_zh,
    kind,
    threshold,
    {{ money('oop_amount') }} as oop_amount,
    {{ money('income_amount') }} as income_amount,
    {{ money('reference_amount') }} as reference_amount,
    case when reference_amount > 0 then cast(round(oop_amount / reference_amount, 4) as decimal(12, 4)) end as oop_share,
    met
from judged
union all
select
    household_id,
    subdistrict_code,
    measure,
    label_zh,
    kind,
    threshold,
    {{ money('oop_amount') }},
    {{ money('income_amount') }},
    {{ money('reference_amount') }},
    case when income_amount > 0 then cast(round(oop_amount / income_amount, 4) as decimal(12, 4)) end,
    met
from city_rule
