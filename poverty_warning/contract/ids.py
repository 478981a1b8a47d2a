"""Resident ID (GB 11643-1999) checks, generation and masking, built on python-stdnum.

stdnum's `cn.ric.is_valid` also rejects a region code used before the year the
code was created (310112 闵行 dates from 1981), yet people born earlier hold
such IDs, so validity here is: 18 characters, checksum (ISO 7064 MOD 11-2) and
a real birth date — the contract's definition.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from stdnum.cn import ric
from stdnum.exceptions import ValidationError


BAD_BIRTH_DATE = "身份证号中的出生日期无效"
BAD_CHECK_DIGIT = "身份证号校验位错误"


def problem(value: str) -> str | None:
    """Return why `value` is not a valid resident ID (in Chinese), or None."""
    number = (value or "").strip().upper()
    if len(number) != 18:
        return f"身份证号长度应为18位，实为{len(number)}位"
    if not (number.isascii() and number[:17].isdigit() and (number[17].isdigit() or number[17] == "X")):
        return "身份证号含非法字符"
    try:
        ric.get_birth_date(number)
    except ValidationError:
        return BAD_BIRTH_DATE
    if ric.calc_check_digit(number) != number[17]:
        return BAD_CHECK_DIGIT
    return None


def is_valid(value: str) -> bool:
    return problem(value) is None


def make(region: str, birth: dt.date, sequence: int) -> str:
    """Build a valid ID from a 6-digit region code, birth date and 3-digit sequence
    (odd for men, even for women)."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def birth_date(value: str) -> dt.date:
    if STORED_FORM.fullmatch(value):  # stdnum would clean the value first: ten times slower
        return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    return ric.get_birth_date(value)


def sex(value: str) -> str:
    return "M" if int(value[16]) % 2 else "F"


def mask(value: str | None) -> str:
    """First 6 and last 4 kept, the rest starred: 310112********0033."""
    if not value:
        return ""
    v = str(value)
    if len(v) < 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def person_key(value: str, key: bytes) -> str:
    """The keyed hash (HMAC-SHA256, hex) that stands for a resident in every table outside the contract
    outputs and the worker lists: the same person always gets the same key, and without the bureau's key
    nobody can test a guessed ID against it (a plain hash of an 18-digit ID with a known birth date and
    region is reversed by trying the few thousand sequence numbers)."""
    return person_keys([value], key)[0]


def person_keys(values, key: bytes) -> list[str]:
    """`person_key` of many values: the HMAC's keyed state is worked out once and copied for each value."""
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    found = []
    for value in values:
        one = keyed.copy()
        one.update(str(value).strip().upper().encode("ascii", "replace"))
        found.append(one.hexdigest())
    return found


CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]  # ISO 7064 MOD 11-2, as stdnum's
CHECK_CHARACTERS = "10X98765432"


# The form every valid ID is stored in: 17 ASCII digits, then a digit or X.
STORED_FORM = re.compile(r"[0-9]{17}[0-9X]")


def problems_many(values: list[str]) -> list[str | None]:
    """`problem` of each value, for a night's distinct IDs at once: values in the stored form have their
    birth date and check digit checked together with numpy; any other value (wrong length or characters,
    lower-case x, spaces) goes through `problem` itself."""
    import numpy as np

    found: list[str | None] = [None] * len(values)
    stored = []
    for i, value in enumerate(values):
        if isinstance(value, str) and STORED_FORM.fullmatch(value):
            stored.append(i)
        else:
            found[i] = problem(value)
    if not stored:
        return found
    chars = np.frombuffer("".join(values[i] for i in stored).encode("ascii"), np.uint8).reshape(-1, 18)
    digits = chars[:, :17].astype(np.int64) - ord("0")
    year = digits[:, 6:10] @ np.array([1000, 100, 10, 1])
    month = digits[:, 10:12] @ np.array([10, 1])
    day = digits[:, 12:14] @ np.array([10, 1])
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month - 1, 0, 11)]
    real_date = (year >= dt.MINYEAR) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days + (leap & (month == 2)))
    check = np.frombuffer(CHECK_CHARACTERS.encode("ascii"), np.uint8)[(digits @ np.array(CHECK_WEIGHTS)) % 11]
    for i, is_date, check_ok in zip(stored, real_date.tolist(), (check == chars[:, 17]).tolist()):
        found[i] = None if is_date and check_ok else BAD_CHECK_DIGIT if is_date else BAD_BIRTH_DATE
    return found


def make_many(region, birth, sequence):
    """`make` for whole columns (numpy arrays of region codes, datetime64 birth dates, sequences):
    the same IDs, a million in about a second."""
    import numpy as np

    birth = np.asarray(birth, "datetime64[D]")
    region = np.asarray(region).astype(np.int64)
    ymd = np.char.replace(np.datetime_as_string(birth, unit="D"), "-", "").astype(np.int64)
    body = (region * 10**8 + ymd) * 1000 + np.asarray(sequence, np.int64)
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1, dtype=np.int64)) % 10
    check = np.array(list(CHECK_CHARACTERS))[(digits @ np.array(CHECK_WEIGHTS)) % 11]
    return np.char.add(np.char.zfill(body.astype(str), 17), check).astype(object)
