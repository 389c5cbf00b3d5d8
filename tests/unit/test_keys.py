"""The value domains shared by every write path and both read-time joins."""

from __future__ import annotations

import pytest

from feast_pinot.keys import (
    EPOCH_MS_MAX,
    EPOCH_MS_MIN,
    INT64_MAX,
    INT64_MIN,
    epoch_ms_problem,
    is_int64,
    is_utf8,
    object_key,
    parse_int_key,
)


@pytest.mark.parametrize(("text", "key"), [
    ("0", 0), ("007", 7), ("9223372036854775807", INT64_MAX),
    ("9223372036854775808", None), ("99999999999999999999", None),
    ("", None), ("-5", None), ("+5", None), (" 5", None), ("5 ", None), ("1_000", None),
    ("\u0663", None), ("\uff15", None), ("5.0", None), ("x5", None),
])
def test_object_ids_name_a_key_only_as_ascii_digits_within_int64(text: str, key: int | None) -> None:
    assert parse_int_key(text) == key


def test_int64_and_utf8_domains() -> None:
    assert is_int64(INT64_MIN) and is_int64(INT64_MAX)
    assert not is_int64(INT64_MIN - 1) and not is_int64(INT64_MAX + 1)
    assert is_utf8("plain") and is_utf8("é😀")
    assert not is_utf8("\ud800") and not is_utf8("a\udfffb")


def test_an_id_of_thousands_of_digits_has_no_key() -> None:
    assert parse_int_key("9" * 5000) is None  # int() itself would raise past 4,300 digits
    assert parse_int_key("0" * 19 + "7") is None  # 20 digits: longer than any int64 is written
    assert parse_int_key("0" * 18 + "7") == 7


@pytest.mark.parametrize(("text", "prefix", "key_is_int", "key"), [
    ("job:17", "job:", True, 17), ("job:17", "job:", False, "17"), ("job:x", "job:", False, "x"),
    ("job:x", "job:", True, None), ("post:17", "job:", True, None), ("post:17", "job:", False, None),
    ("17", "", True, 17), ("job:", "job:", False, ""), ("job:", "job:", True, None),
])
def test_an_object_names_the_key_after_its_prefix(
    text: str, prefix: str, key_is_int: bool, key: int | str | None
) -> None:
    assert object_key(text, prefix, key_is_int) == key


def test_epoch_ms_is_plausible_from_2001_to_2100() -> None:
    assert (EPOCH_MS_MIN, EPOCH_MS_MAX) == (978_307_200_000, 4_102_444_800_000)  # 2001-01-01, 2100-01-01 UTC
    assert epoch_ms_problem(EPOCH_MS_MIN) is None and epoch_ms_problem(EPOCH_MS_MAX - 1) is None
    says = "must be epoch milliseconds from 2001-01-01 to 2100-01-01, got {} (as milliseconds it is {})"
    assert epoch_ms_problem(EPOCH_MS_MIN - 1) == says.format(978307199999, "2000-12-31T23:59:59.999Z")
    assert epoch_ms_problem(EPOCH_MS_MAX) == says.format(4102444800000, "2100-01-01T00:00:00.000Z")


@pytest.mark.parametrize(("value", "shown"), [
    (1_767_571_200, "as milliseconds it is 1970-01-21T10:59:31.200Z; "
                    "seconds? as seconds it is 2026-01-05T00:00:00.000Z"),
    (1_767_571_200_123_456, "as milliseconds it is after the year 9999; "
                            "microseconds? as microseconds it is 2026-01-05T00:00:00.123Z"),
    (1_767_571_200_123_456_789, "as milliseconds it is after the year 9999; "
                                "nanoseconds? as nanoseconds it is 2026-01-05T00:00:00.123Z"),
    (0, "as milliseconds it is 1970-01-01T00:00:00.000Z"),
    (-(2**63), "as milliseconds it is before the year 1"),
    (2**70, "as milliseconds it is after the year 9999"),
])
def test_an_implausible_epoch_ms_says_what_it_looks_like(value: int, shown: str) -> None:
    assert epoch_ms_problem(value) == f"must be epoch milliseconds from 2001-01-01 to 2100-01-01, got {value} ({shown})"
