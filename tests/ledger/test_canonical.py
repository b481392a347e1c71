"""Tests for ledger.auditor.canonical against the independent RFC 8785 implementation `rfc8785`.

Reference: RFC 8785 (JSON Canonicalization Scheme), https://www.rfc-editor.org/rfc/rfc8785
and its Python implementation https://github.com/trailofbits/rfc8785.py (package
`rfc8785`), which shares no code with ledger.auditor.canonical.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.auditor.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalFormError,
    canonical_bytes,
    parse_canonical,
)

SAFE = 2**53 - 1

# Strings: any code point except surrogates (category Cs), so control characters,
# U+2028/9, U+FFFF, non-BMP characters and so on are all generated.
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)

# Member names that exercise the UTF-16 ordering path: code-point order and UTF-16
# code-unit order disagree between U+E000..U+FFFF and the non-BMP planes.
TRICKY_NAMES = [
    "",
    "a",
    "A",
    "\x00",
    "\x7f",
    "\x80",
    "é",
    "\u00ff",
    "\u0100",
    "\u20ac",
    "\ud7ff",
    "\ue000",
    "\ufb01",
    "\uff61",
    "\ufffd",
    "\uffff",
    "\U00010000",
    "\U0001f600",
    "\U0001f601",
    "\U0010ffff",
    "a\U0001f600",
    "a\uffff",
]
names = st.one_of(st.sampled_from(TRICKY_NAMES), text)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-SAFE, max_value=SAFE),
    st.sampled_from([0, 1, -1, SAFE, -SAFE, 2**31, -(2**31), 2**32]),
    text,
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(names, children, max_size=6),
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
@example({"\ue000": 1, "\U0001f600": 2})
@example({"\ufb01": 1, "\U0001f600": 2, "a": {"\U00010000": [], "\uffff": None}})
@example({"a": {"é": 1}, "b": '\x00\x1f\x7f\u2028\u2029"\\/'})
@example(["\b\t\n\f\r\x0b\x01", "\U0010ffff"])
def test_canonical_bytes_match_the_independent_rfc8785_implementation(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(names, st.integers(min_value=-SAFE, max_value=SAFE), min_size=2))
def test_member_names_are_sorted_by_utf16_code_units(value: dict[str, int]) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)
    ordered = list(json.loads(canonical_bytes(value)))
    assert ordered == sorted(value, key=lambda k: k.encode("utf-16-be"))


def test_utf16_order_differs_from_code_point_order() -> None:
    # U+1F600 is D83D DE00 in UTF-16, so it sorts before U+E000 and U+FB01.
    value = {"\ue000": 1, "\ufb01": 2, "\U0001f600": 3}
    assert canonical_bytes(value) == '{"\U0001f600":3,"\ue000":1,"\ufb01":2}'.encode()
    assert canonical_bytes(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_parse_canonical_round_trips(value: Any) -> None:
    assert parse_canonical(canonical_bytes(value)) == value


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_other_serialisations_of_the_same_value_are_refused(value: Any) -> None:
    canonical = canonical_bytes(value)
    for other in (
        json.dumps(value).encode(),  # ", " and ": " separators, \u escapes
        json.dumps(value, ensure_ascii=False, indent=1).encode(),
        json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode(),
        b" " + canonical,
        canonical + b"\n",
    ):
        if other == canonical:
            continue
        with pytest.raises(CanonicalFormError):
            parse_canonical(other)


def test_integer_range_boundaries_are_accepted() -> None:
    assert MAX_SAFE_INTEGER == 2**53 - 1
    for n in (SAFE, -SAFE):
        assert canonical_bytes(n) == str(n).encode() == rfc8785.dumps(n)
        assert parse_canonical(str(n).encode()) == n


# --------------------------------------------------------------------------------------
# Refusals of values.


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        0.0,
        -0.0,
        1.5,
        float("nan"),
        float("inf"),
        float("-inf"),
        [1.0],
        {"a": 1.5},
        {"a": [{"b": 0.5}]},
        2**53,
        -(2**53),
        2**64,
        [2**53],
        {"a": 2**53},
    ],
    ids=repr,
)
def test_floats_and_unsafe_integers_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "value",
    [
        {"é": 1.5},
        {"é": float("nan")},
        {"é": float("inf")},
        {"é": 2**53},
        {"é": [1.0]},
        {"\U0001f600": {"a": 0.5}},
        {"a": {"é": 2**60}},
        {"é": {1: 2}},
        {"é": object()},
        {"é": b"bytes"},
    ],
    ids=[
        "float",
        "nan",
        "inf",
        "2**53",
        "float in list",
        "float under non-BMP name",
        "2**60 nested",
        "int member name",
        "object",
        "bytes",
    ],
)
def test_values_under_non_ascii_member_names_are_checked_too(value: Any) -> None:
    # The same refusals must hold whichever serialisation path (ASCII names or not) runs.
    with pytest.raises(CanonicalFormError):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "value",
    [{1: 2}, {None: 1}, object(), b"bytes", {1, 2}, {"a": object()}, [b"x"]],
    ids=["int name", "None name", "object", "bytes", "set", "object member", "bytes item"],
)
def test_non_json_values_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes(value)


@pytest.mark.parametrize(
    "value",
    ["\ud800", "\udfff", "a\udc00b", ["\ud83d"], {"a": "\ude00"}, {"\ud800": 1}, {"é\ud800": 1}],
    ids=repr,
)
def test_lone_surrogates_are_refused(value: Any) -> None:
    with pytest.raises(CanonicalFormError):
        canonical_bytes(value)


# --------------------------------------------------------------------------------------
# Refusals of bytes.


@pytest.mark.parametrize(
    "data",
    [
        # floats
        b"1.0",
        b"-0.0",
        b"1e3",
        b"1E3",
        b"1e-3",
        b'{"a":1.0}',
        b"[0.5]",
        '{"é":1.0}'.encode(),
        # NaN / Infinity literals
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"[NaN]",
        b'{"a":Infinity}',
        # integers beyond the safe range
        b"9007199254740992",
        b"-9007199254740992",
        b"[18446744073709551616]",
        b'{"a":9007199254740992}',
        '{"é":9007199254740992}'.encode(),
        # duplicate member names
        b'{"a":1,"a":1}',
        b'{"a":1,"a":2}',
        b'{"a":{"b":1,"b":1}}',
        '{"é":1,"é":1}'.encode(),
        b'{"a":1,"\\u0061":1}',
        # whitespace, ordering and escapes that are not canonical
        b'{"b":1,"a":2}',
        b'{"a": 1}',
        b'{"a":1 }',
        b"[1, 2]",
        b" 1",
        b"1 ",
        b"1\n",
        b'"\\u0041"',
        b'"\\/"',
        b'"\\u001F"',
        b'"\\u000a"',
        b'"\\u00e9"',
        b'"\\ud83d\\ude00"',
        b'{"\\u00e9":1}',
        '{"\ufb01":1,"\U0001f600":2}'.encode(),  # code-point order, not UTF-16 order
        b"-0",
        b"+1",
        b"01",
        b"\xef\xbb\xbf1",  # byte order mark
        # not JSON at all
        b"",
        b"{",
        b"'a'",
        b"[1,]",
        b"true false",
        # invalid UTF-8
        b'"\xff"',
        b'"\xc3"',
        b'"\xc0\xaf"',
        b'"\xed\xa0\x80"',
        b'"\xf4\x90\x80\x80"',
        # lone surrogates written as escapes
        b'"\\ud800"',
        b'"\\udc00"',
        b'{"\\ud800":1}',
    ],
    ids=repr,
)
def test_non_canonical_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(CanonicalFormError):
        parse_canonical(data)


def test_canonical_bytes_with_utf16_ordering_are_accepted() -> None:
    data = '{"\U0001f600":2,"\ufb01":1}'.encode()
    assert parse_canonical(data) == {"\ufb01": 1, "\U0001f600": 2}


@pytest.mark.parametrize(
    "data",
    [
        b"1" * 5000,  # beyond Python's int-from-string digit limit
        b"-" + b"9" * 4301,
        b"[" * 10_000 + b"]" * 10_000,  # nesting beyond the recursion limit
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    ],
    ids=["5000 digits", "4302 digits", "deep array", "deep object"],
)
def test_hostile_bytes_are_refused_with_canonical_form_error(data: bytes) -> None:
    # Callers (ledger.entry) catch CanonicalFormError only; any other exception type
    # escaping here would turn a malformed entry into a crash.
    with pytest.raises(CanonicalFormError):
        parse_canonical(data)
