{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id') }}"
) }}
-- depends_on: {{ ref('int_persons_changed_since_build') }}
-- Each resident as last delivered by the as-of date. Kept between nights by person: only a person
-- delivered again is worked out again. Nothing here depends on other members or on the as-of day
-- itself: household sizes are counted and ages worked out where they are read.
with deliveries as (
    select
        p.*,
        row_number() over (
            partition by p.person_id
            order by p.delivered_on desc, p.source_file desc, p.source_row desc
        ) as delivery_rank
    from {{ ref('stg_persons') }} as p
    where {{ is_changed('p.person_id', 'person_id') }}
)

select
    person_id,
    person_name,
    sex,
    birth_date,
    household_id,
    relation,
    district_code,
    subdistrict_code,
    subdistrict_name,
    phone,
    community_name,
    address
from deliveries
where delivery_rank = 1
