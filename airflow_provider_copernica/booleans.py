"""The package's one reading of booleans written as text (connection extras, records, files)."""

from __future__ import annotations

from typing import Any

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


def parse_bool(value: Any) -> bool | None:
    """``value`` as a bool, or None when it is not a boolean spelling.

    Accepts bools, the integers 0 and 1, and (any case, spaces around ignored) true/false,
    yes/no, on/off, 1/0; the empty string is false. Callers decide what None means.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
    return None
