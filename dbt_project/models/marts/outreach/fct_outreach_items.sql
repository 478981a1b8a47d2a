-- Tonight's outreach lists: one row per household and list, its flagged members grouped, with the
-- person to call, one priority (the highest severity of its reasons) and its place on its
-- sub-district's list: severity first, then unpaid assistance, then burden ratio.
with flags as (
    select
        f.*,
        m.person_name,
        {{ dbt.concat(['m.person_name', "'（'", 'cast(m.birth_year as ' ~ dbt.type_string() ~ ')', "'年生，'", 'm.masked_id', "'）'"]) }}
            as member_label,
        m.category_name_zh
    from {{ ref('int_outreach_flags') }} as f
    left join {{ ref('int_outreach_members') }} as m on m.person_id = f.person_id
),

households as (
    select
        list_kind,
        household_id,
        max(level) as level,
        max(burden_amount) as burden_amount,
        max(income_amount) as income_amount,
        max(burden_ratio) as burden_ratio,
        sum(expected_assistance) as expected_assistance,
        sum(paid_assistance) as paid_assistance,
        sum(unpaid_assistance) as unpaid_assistance,
        count(person_id) as flagged_members,
        -- empty, not '', where no member is flagged (Spark's listagg of nothing is '', DuckDB's NULL)
        nullif({{ dbt.listagg('member_label', "'；'", 'order by person_id') }}, '') as members,
        -- ordered to the last key: a household can have two reasons of one severity and no member (both
        -- candidate rules), and a tie would let a rerun join them the other way round and re-send the list
        {{ dbt.listagg("case when person_id is null then reason_zh else " ~ dbt.concat(['person_name', "'：'", 'reason_zh']) ~ " end",
                       "'；'", 'order by level desc, person_id, reason_zh') }} as reason_zh
    from flags
    group by list_kind, household_id
),

actions as (
    select
        list_kind,
        household_id,
        action_zh,
        row_number() over (partition by list_kind, household_id order by level desc, action_zh asc) as pick
    from flags
),

categories as (
    select
        household_id,
        {{ dbt.listagg('category_name_zh', "'、'", 'order by category_name_zh') }} as categories_zh
    from (
        select distinct
            household_id,
            category_name_zh
        from {{ ref('int_outreach_members') }}
        where category_name_zh is not null
    ) as held
    group by household_id
),

contacts as (
    select * from {{ ref('int_outreach_members') }}
    where is_contact
)

select
    h.list_kind,
    h.household_id,
    c.subdistrict_code,
    c.subdistrict_name,
    h.level,
    case h.level when 3 then '高' when 2 then '中' else '低' end as priority_zh,
    row_number() over (
        partition by c.subdistrict_code, h.list_kind
        order by
            h.level desc, coalesce(h.unpaid_assistance, 0) desc, coalesce(h.burden_ratio, 0) desc,
            h.household_id
    ) as list_rank,
    c.person_id as contact_person_id,
    {{ dbt.concat(['c.person_name', "'（'", 'cast(c.birth_year as ' ~ dbt.type_string() ~ ')', "'年生，'", 'c.masked_id', "'）'"]) }}
        as contact_label,
    c.phone,
    c.community_name,
    c.address,
    h.flagged_members,
    h.members,
    k.categories_zh,
    h.burden_amount,
    h.income_amount,
    h.burden_ratio,
    h.expected_assistance,
    h.paid_assistance,
    h.unpaid_assistance,
    h.reason_zh,
    a.action_zh
from households as h
inner join contacts as c on c.household_id = h.household_id
inner join actions as a on a.list_kind = h.list_kind and a.household_id = h.household_id and a.pick = 1
left join categories as k on k.household_id = h.household_id
