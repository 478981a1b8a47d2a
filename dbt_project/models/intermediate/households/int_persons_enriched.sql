-- Persons with their household's size and their age on the as-of date.
select
    p.*,
    count(*) over (partition by p.household_id) as household_size,
    {{ age_on('p.birth_date', as_of()) }} as age_on_as_of
from {{ ref('stg_persons') }} as p
