"""The one check that every ``fields[]`` condition the provider sends is one Copernica honours.

The live API ignores, without an error, a condition it does not recognise: an unknown field,
a space between the field and its operator (``country ==NL``), a value it cannot parse. Such
a request returns *unfiltered* data. Field names match case-insensitively, and a database or
collection field named like a property (``modified``) takes the property's place in
``fields[]`` (not in ``orderby``). So a condition is sent only when it is well formed and names
a property of the endpoint that no field of the database/collection shadows; anything else
is refused before any data request (:func:`check_conditions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from airflow_provider_copernica.exceptions import CopernicaConfigError

OPERATORS = ("==", "!=", "<>", "<=", ">=", "=~", "!~", "<", ">")
# The field name directly followed by the operator, as the live API reads a condition.
CONDITION = re.compile(r"^([A-Za-z_][\w.\-]*)(==|!=|<>|<=|>=|=~|!~|<|>)(.*)$", re.S)
# Properties that ``fields[]`` filters on, per kind of window filter (``window_params``).
PROPERTIES: dict[str, frozenset[str]] = {
    "fields_modified": frozenset({"id", "code", "modified"}),  # profiles, subprofiles
    "fields_timestamp": frozenset({"id", "timestamp"}),  # HTML event lists
}
# A field cannot take the place of the record id (keyset paging relies on that).
_NEVER_SHADOWED = frozenset({"id"})


def check_conditions(
    dataset: str,
    kind: str,
    params: Iterable[Sequence[tuple[str, str]]],
    field_names: Callable[[], Iterable[str]] = tuple,
) -> None:
    """Refuse any ``fields[]`` condition in ``params`` that Copernica would ignore or read
    differently. ``kind`` is the dataset's ``window_params``; ``field_names`` returns the
    database's/collection's own field names (called only when there is a condition)."""
    conditions = [value for pairs in params for name, value in pairs if name == "fields[]"]
    if not conditions:
        return
    properties = PROPERTIES.get(kind, frozenset({"id"}))
    fields = list(field_names())
    for text in conditions:
        match = CONDITION.match(text)
        if match is None:
            raise CopernicaConfigError(
                f"Dataset {dataset!r}: the filter fields[]={text!r} is not a condition "
                "Copernica recognises (a field name directly followed by one of "
                f"{' '.join(OPERATORS)} and a value); it would be ignored and return "
                "unfiltered data, so it is not sent."
            )
        name = match.group(1)
        lowered = name.lower()
        shadows = [f for f in fields if f.lower() == lowered]
        if lowered in properties and shadows and lowered not in _NEVER_SHADOWED:
            raise CopernicaConfigError(
                f"Dataset {dataset!r} cannot be filtered by {lowered!r}: its database/"
                f"collection has a field named {shadows[0]!r}, and Copernica filters "
                f"fields[]={name}... on that field instead of the records' {lowered} time, so "
                "the interval would not be selected exactly. Rename that field in Copernica "
                f"to extract {dataset!r} by interval."
            )
        if lowered not in properties and not shadows:
            valid = ", ".join(sorted(properties | set(fields)))
            raise CopernicaConfigError(
                f"Dataset {dataset!r}: fields[]={text!r} names {name!r}, which is neither a "
                f"property nor a field of this endpoint, so Copernica would ignore it; "
                f"valid names: {valid}."
            )
