-- Households with medical bills up to the night and no economic assessment on or before it. No income
-- rule can judge them, so the quality report hands civil affairs this list, by sub-district, to assess.
with unassessed as (
    select
        household_id,
        household_size
    from {{ ref('int_household_income_as_of') }}
    where assessed_on is null
),

-- Only the unassessed households' claims and members are read: a few among every household's.
billed as (
    select
        household_id,
        count(distinct person_id) as members_with_bills,
        sum(personal_burden) as personal_burden,
        max(claim_date) as latest_claim_date
    from {{ ref('int_claims_netted') }}
    where household_id in (select u.household_id from unassessed as u)
    group by household_id
),

contacts as (
    -- the household head, else the member with the lowest ID: one stable person to ask for
    select
        household_id,
        person_id,
        subdistrict_code,
        subdistrict_name,
        row_number() over (
            partition by household_id
            order by case when relation = 'head' then 0 else 1 end, person_id
        ) as contact_rank
    from {{ ref('int_persons_enriched') }}
    where household_id in (select u.household_id from unassessed as u)
)

select
    c.subdistrict_code,
    c.subdistrict_name,
    b.household_id,
    {{ mask_resident_id('c.person_id') }} as contact_person_id_masked,
    i.household_size,
    b.members_with_bills,
    {{ money('b.personal_burden') }} as personal_burden,
    b.latest_claim_date
from billed as b
inner join unassessed as i on i.household_id = b.household_id
inner join contacts as c on c.household_id = b.household_id and c.contact_rank = 1
