import datetime as dt

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
