"""Canonical JSON bytes for signing and hashing (RFC 8785, JCS, restricted to integers).

Why a restriction: RFC 8785 serialises numbers the way ECMAScript does, which makes
floating-point values a source of cross-language disagreement. Ledger entries never
need fractions (dates are strings, sizes are integers), so floats are refused outright
and integers must lie in the I-JSON safe range (|n| < 2**53). Within that value space
JCS is: UTF-8, no insignificant whitespace, object members sorted by the UTF-16 code
units of their names, and only `"`, `\\` and control characters escaped.

Python's C JSON encoder produces exactly that when every member name is ASCII (sorting
by code point and by UTF-16 code unit then agree), so that is the fast path; a name
outside ASCII takes the slow path that sorts by UTF-16 explicitly. Both paths are
checked against an independent RFC 8785 implementation in the tests.

Nesting is limited to MAX_DEPTH levels of arrays and objects, in both directions: the
canonicaliser recurses, and a value nested some hundreds deep (a line of a hostile
bundle) would otherwise exhaust Python's stack with a RecursionError, a crash rather
than a refusal. The ledger's entries nest four or five deep.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ledger.auditor.errors import FormatError

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 64

JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]


class CanonicalFormError(FormatError):
    """The value or the bytes are outside the canonical form the ledger signs."""


def _check(value: Any, path: str, depth: int = 0) -> bool:
    """Validate the value space; return True when every member name is ASCII."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalFormError(f"{path}: integer {value} is outside the I-JSON safe range")
        return True
    if isinstance(value, float):
        raise CanonicalFormError(f"{path}: floating-point numbers are not allowed; use a string")
    if isinstance(value, (list, tuple, dict)) and depth >= MAX_DEPTH:
        raise CanonicalFormError(f"{path[:80]}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, (list, tuple)):
        ascii_only = True
        for i, item in enumerate(value):
            ascii_only = _check(item, f"{path}[{i}]", depth + 1) and ascii_only
        return ascii_only
    if isinstance(value, dict):
        ascii_only = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalFormError(f"{path}: member name {key!r} is not a string")
            item_ascii = _check(item, f"{path}.{key}", depth + 1)  # always check the value
            ascii_only = key.isascii() and item_ascii and ascii_only
        return ascii_only
    raise CanonicalFormError(f"{path}: {type(value).__name__} is not a JSON value")


def _check_depth(data: str | bytes, value: Any) -> None:
    """Refuse a parsed value nested deeper than MAX_DEPTH. Cheap for what the ledger
    writes: only a text holding more brackets than that is walked (without recursion)."""
    if isinstance(data, str):
        brackets = data.count("[") + data.count("{")
    else:
        brackets = data.count(b"[") + data.count(b"{")
    if brackets <= MAX_DEPTH or not isinstance(value, (dict, list)):
        return
    # Depth first, one iterator per level open: memory grows with the depth, not the size.
    path: list[Iterator[Any]] = [_children(value)]
    while path:
        child = next(path[-1], _END)
        if child is _END:
            path.pop()
        elif isinstance(child, (dict, list)):
            if len(path) >= MAX_DEPTH:
                raise CanonicalFormError(f"JSON nested more than {MAX_DEPTH} levels deep")
            path.append(_children(child))


_END = object()


def _children(value: dict[str, Any] | list[Any]) -> Iterator[Any]:
    return iter(value.values() if isinstance(value, dict) else value)


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be", "surrogatepass")


def _slow(value: Any) -> str:
    if isinstance(value, dict):
        members = sorted(value.items(), key=lambda kv: _utf16_key(kv[0]))
        inner = ",".join(_dumps_scalar(k) + ":" + _slow(v) for k, v in members)
        return "{" + inner + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_slow(v) for v in value) + "]"
    return _dumps_scalar(value)


def _dumps_scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def canonical_bytes(value: Any) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value (no floats)."""
    ascii_names = _check(value, "$")
    if ascii_names:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    else:
        text = _slow(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CanonicalFormError(f"string is not valid Unicode (lone surrogate): {error}") from None


def _refuse_float(literal: str) -> Any:
    raise CanonicalFormError(f"floating-point number {literal} is not allowed")


def _refuse_constant(literal: str) -> Any:
    raise CanonicalFormError(f"{literal} is not valid JSON")


def _no_duplicate_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        names = [name for name, _ in pairs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise CanonicalFormError(f"duplicate member names: {', '.join(duplicates)}")
    return result


def parse_json(data: bytes) -> Any:
    """Parse strict JSON that need not be canonical (a bundle's metadata files).

    Refuses invalid UTF-8, duplicate member names, floats, NaN and integers outside the
    I-JSON safe range, as `parse_canonical` does; only the byte-exact form is not required."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CanonicalFormError(f"not UTF-8: {error}") from None
    return _loads(text, _no_duplicate_names)


def parse_canonical(data: bytes) -> Any:
    """Parse bytes that must already be in canonical form, and prove that they are.

    Refuses invalid UTF-8, floats, duplicate member names and any byte sequence that
    is not exactly what `canonical_bytes` would produce for the parsed value, so two
    different byte strings can never carry the same signed meaning.
    """
    if data.isascii():
        return _parse_ascii(data)
    value = parse_json(data)
    if canonical_bytes(value) != data:
        raise CanonicalFormError("bytes are valid JSON but not in canonical (RFC 8785) form")
    return value


def _loads(data: str | bytes, pairs: Any = None) -> Any:
    """json.loads refusing floats, NaN/Infinity and unsafe integers, with our errors."""
    try:
        value = json.loads(
            data,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
            parse_int=_checked_int,
            object_pairs_hook=pairs,
        )
        _check_depth(data, value)
        return value
    except CanonicalFormError:
        raise
    except json.JSONDecodeError as error:
        raise CanonicalFormError(f"not JSON: {error}") from None
    except (ValueError, RecursionError) as error:
        # e.g. an integer of more digits than Python will convert, or nesting too deep
        raise CanonicalFormError(f"not acceptable JSON: {type(error).__name__}") from None


def _checked_int(literal: str) -> int:
    value = int(literal)
    if abs(value) > MAX_SAFE_INTEGER:
        raise CanonicalFormError(f"integer {literal[:30]} is outside the I-JSON safe range")
    return value


def _parse_ascii(data: bytes) -> Any:
    """The fast path, for bytes that are all ASCII (most entries; it halves the cost).

    In canonical form such bytes can only carry ASCII member names, for which sorting by
    code point is RFC 8785's order, so json.dumps reproduces them exactly. Floats, NaN and
    out-of-range integers are refused while parsing; a repeated name collapses when
    parsed, and an escaped character (e.g. \\u00e9) re-serialises raw, so either makes the
    round trip differ and is refused as not canonical."""
    value = _loads(data)
    try:
        again = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        canonical = again.encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError) as error:
        raise CanonicalFormError(f"not acceptable JSON: {type(error).__name__}") from None
    if canonical != data:
        raise CanonicalFormError("bytes are valid JSON but not in canonical (RFC 8785) form")
    return value
