"""The value domains shared by every write path and both read-time joins."""

from __future__ import annotations

import pytest

from feast_pinot.keys import INT64_MAX, INT64_MIN, is_int64, is_utf8, object_key, parse_int_key


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
