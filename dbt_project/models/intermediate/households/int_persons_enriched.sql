{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id', delivered_again=true) }}"
) }}
-- depends_on: {{ ref('int_persons_redelivered_since_build') }}
-- Each resident as last delivered by the as-of date. Kept between nights by person: only a person
-- delivered again (int_persons_redelivered_since_build) is worked out again. Nothing here depends on
-- other members or on the as-of day itself: household sizes are counted and ages worked out where
-- they are read.
with latest as (
    {{ latest_of(ref('stg_persons'), ['person_id'], is_changed('person_id', 'person_id', delivered_again=true)) }}
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
from latest
