{{ config(
    materialized=kept_between_nights(),
    incremental_strategy='append',
    pre_hook="{{ delete_changed('person_id', delivered_again=true) }}"
) }}
-- depends_on: {{ ref('int_persons_redelivered_since_build') }}
-- Each person's enrollment in each year as last delivered by the as-of date. Kept between nights by
-- person: only a person with an enrollment or person row delivered since is worked out again.
with latest as (
    {{ latest_of(ref('stg_enrollment'), ['person_id', 'enrollment_year'], is_changed('person_id', 'person_id', delivered_again=true)) }}
)

select
    person_id,
    enrollment_year,
    scheme,
    enrolled_from,
    enrolled_to,
    premium_subsidy
from latest
