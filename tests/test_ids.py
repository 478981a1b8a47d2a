import datetime as dt
import hashlib
import hmac
import random

import pytest

from poverty_warning.contract import ids


@pytest.mark.parametrize("number", ["360426199101010071", "120103198806018241", "31011220100601007X"])
def test_valid_ids_from_the_contract(number):
    assert ids.problem(number) is None


@pytest.mark.parametrize("number, reason", [
    ("360426199101010072", "校验位"),
    ("36042619910101007", "长度"),
    ("360426199113010071", "出生日期"),
    ("3604261991010100A1", "非法字符"),
])
def test_invalid_ids_say_why(number, reason):
    assert reason in ids.problem(number)


def test_made_ids_are_valid_and_carry_sex_and_birth():
    number = ids.make("150302", dt.date(1979, 2, 28), 7)
    assert ids.is_valid(number)
    assert ids.sex(number) == "M"
    assert ids.birth_date(number) == dt.date(1979, 2, 28)
    assert ids.sex(ids.make("150302", dt.date(1979, 2, 28), 8)) == "F"


def test_mask_keeps_first_six_and_last_four():
    assert ids.mask("310112198001010033") == "310112********0033"
    assert ids.mask(None) == ""


def test_many_ids_are_judged_as_one_at_a_time():
    """The checks of a night's IDs together (numpy) say what `problem` says of each: hand-picked edges
    (leap days, month 13, year 0000, every check character, lower-case x, spaces, full-width digits)
    and many random near-IDs."""
    edges = ["360426199101010071", "31011220100601007X", "31011220100601007x", " 360426199101010071",
             "360426200002290018", "360426190002290011", "360426190002280016", "360426000001010017",
             "360426199113010071", "360426199100010075", "360426199104310073", "360426199101010072",
             "36042619910101007", "３60426199101010071", "", "X" * 18]
    made = [ids.make("360426", dt.date(1991, 1, 1), s) for s in range(60)]  # every check character
    assert {m[-1] for m in made} == set(ids.CHECK_CHARACTERS)
    rng = random.Random(7)
    near = []
    for _ in range(20000):
        body = f"{rng.randrange(10**6):06d}{rng.randrange(10**4):04d}{rng.randrange(14):02d}{rng.randrange(33):02d}" \
               f"{rng.randrange(1000):03d}"
        near.append(body + rng.choice("0123456789X"))
    values = edges + made + near
    assert ids.problems_many(values) == [ids.problem(v) for v in values]
    assert sum(ids.problem(v) is None for v in near) > 1000  # the random ones reach the valid branch too
    assert ids.problems_many(["360426200002290018", "360426190002290011"]) == [None, ids.BAD_BIRTH_DATE]


def test_many_person_keys_are_the_keys_one_at_a_time():
    key = b"a-key-of-sixteen-or-more"
    values = ["31011220100601007X", " 31011220100601007x ", "", "名字"]
    expected = [hmac.new(key, v.strip().upper().encode("ascii", "replace"), hashlib.sha256).hexdigest() for v in values]
    assert ids.person_keys(values, key) == expected == [ids.person_key(v, key) for v in values]
