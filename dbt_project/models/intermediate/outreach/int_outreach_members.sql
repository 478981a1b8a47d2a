-- Every resident as an outreach list shows them: birth year and masked ID (so that no two people on a
-- sheet look alike), contact details, the strongest assistance category held on the as-of date, and
-- whether they are the household's contact person (its oldest member with a phone, ties by ID).
with strongest as (
    select
        cat.person_id,
        cat.category,
        row_number() over (partition by cat.person_id order by co.category_rank, cat.category) as pick
    from {{ ref('stg_assistance_categories') }} as cat
    inner join {{ ref('stg_policy__category_order') }} as co
        on co.policy_id = {{ policy_id() }} and co.category = cat.category
    where {{ as_of() }} between cat.valid_from and cat.valid_to
)

select
    p.person_id,
    p.person_name,
    p.household_id,
    p.relation,
    p.subdistrict_code,
    p.subdistrict_name,
    cast(extract(year from p.birth_date) as integer) as birth_year,
    {{ age_on('p.birth_date', as_of()) }} as age,
    {{ mask_resident_id('p.person_id') }} as masked_id,
    p.phone,
    p.community_name,
    p.address,
    s.category,
    n.category_name_zh,
    row_number() over (
        partition by p.household_id
        order by case when p.phone is null then 1 else 0 end, p.birth_date, p.person_id
    ) = 1 as is_contact
from {{ ref('int_persons_enriched') }} as p
left join strongest as s on s.person_id = p.person_id and s.pick = 1
left join {{ ref('stg_policy__category_names') }} as n on n.category = s.category
