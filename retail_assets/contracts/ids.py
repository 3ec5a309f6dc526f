"""Store and camera ids: `[A-Za-z0-9_-]{1,64}`, the same rule in keys, partitions and events."""

from __future__ import annotations

import re

from retail_assets.errors import InputError

ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_ID = re.compile(ID_PATTERN)  # fullmatch: `$` would also accept a trailing newline


def is_id(value: str) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def check_id(value: str, what: str) -> str:
    """`value` unchanged, or InputError naming `what` and the rule it breaks."""
    if not is_id(value):
        raise InputError(f"{what} {value!r} must match {ID_PATTERN}")
    return value
