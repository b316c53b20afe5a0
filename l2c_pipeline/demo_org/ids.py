"""Salesforce record ids: 15 case-sensitive characters plus a 3-character case-safety suffix.

Layout of the 15 characters, as in real orgs: key prefix (3, names the object), pod (2),
reserved (1), record number in base 62 (9). Digits sort before upper before lower case, so
comparing two ids as strings orders them by record number, as Salesforce does.
"""

from __future__ import annotations

import re

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_POD = "5g0"  # pod "5g" + reserved "0"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")


def case_safe_suffix(id15: str) -> str:
    """The 3 characters Salesforce appends so an id survives case-insensitive systems."""
    suffix = []
    for chunk_start in (0, 5, 10):
        bits = 0
        for position, char in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix.append(_SUFFIX_ALPHABET[bits])
    return "".join(suffix)


def make_id(prefix: str, number: int) -> str:
    """The 18-character id of record `number` of the object with key `prefix`."""
    digits = []
    for _ in range(9):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    if number:
        raise ValueError("record number does not fit in 9 base-62 digits")
    id15 = prefix + _POD + "".join(reversed(digits))
    return id15 + case_safe_suffix(id15)


def is_valid_id(value: str) -> bool:
    """True for a well-formed 15- or 18-character id whose suffix (if any) is right."""
    if not ID_PATTERN.match(value):
        return False
    return len(value) == 15 or case_safe_suffix(value[:15]) == value[15:]


class IdAllocator:
    """Hands out ids per key prefix from a numbered range, so parallel workers never collide."""

    def __init__(self, first_number: int, span: int | None = None) -> None:
        self._next: dict[str, int] = {}
        self._first = first_number
        self._end = None if span is None else first_number + span

    def __call__(self, prefix: str) -> str:
        number = self._next.get(prefix, self._first)
        if self._end is not None and number >= self._end:
            # A silent overflow would hand out the next range's ids twice.
            raise ValueError(f"the id range from {self._first} is used up for prefix {prefix}")
        self._next[prefix] = number + 1
        return make_id(prefix, number)
