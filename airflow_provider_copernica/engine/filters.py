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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from airflow_provider_copernica.exceptions import CopernicaConfigError

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset

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


# -- user filters (``filters=["country==NL", "age>=18"]``) ---------------------------------
_NUMERIC = frozenset({"int", "float"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Record ids are whole numbers; the API trims values and reads an empty one as 0.
_WHOLE = re.compile(r"^\s*\d+\s*$")


def user_conditions(dataset: str, filters: object) -> tuple[str, ...]:
    """The user's ``filters`` as ``fields[]`` conditions, their syntax checked (no call).

    ``filters`` is a list of ``field<op>value`` strings (one string is one filter). Refused:
    anything that is not a field name directly followed by one of :data:`OPERATORS` (a space
    before the operator makes the live API ignore the condition), and control characters."""
    if filters is None:
        return ()
    items = [filters] if isinstance(filters, str) else filters
    if not isinstance(items, (list, tuple)):
        raise CopernicaConfigError(
            f"Dataset {dataset!r}: filters must be a list of conditions such as "
            f'["country==NL", "age>=18"], got {filters!r}'
        )
    result = []
    for text in items:
        if not isinstance(text, str) or CONDITION.match(text) is None or _CONTROL.search(text):
            raise CopernicaConfigError(
                f"Dataset {dataset!r}: the filter {text!r} is not a condition Copernica "
                "recognises: a field name directly followed (no space) by one of "
                f"{' '.join(OPERATORS)} and a value, e.g. 'country==NL'; Copernica would "
                "ignore it and return unfiltered data, so nothing is sent."
            )
        result.append(text)
    return tuple(dict.fromkeys(result))


def check_user_filters(
    dataset: str, conditions: Sequence[str], kind: str, field_types: Mapping[str, str]
) -> None:
    """Refuse user conditions naming neither a field (``field_types``: name -> column type)
    nor a property of the endpoint, or comparing a number field with a non-number (the live
    API ignores both)."""
    properties = PROPERTIES.get(kind, frozenset({"id"}))
    by_lower = {name.lower(): kind for name, kind in field_types.items()}
    for text in conditions:
        match = CONDITION.match(text)
        assert match is not None  # user_conditions checked the syntax
        name, op, value = match.groups()
        lowered = name.lower()
        if lowered not in by_lower and lowered not in properties:
            valid = ", ".join(sorted(properties | set(field_types)))
            raise CopernicaConfigError(
                f"Dataset {dataset!r}: the filter {text!r} names {name!r}, which is neither "
                f"a field nor a property of this endpoint, so Copernica would ignore it; "
                f"valid names: {valid}."
            )
        record_id = lowered == "id" and lowered not in by_lower
        if record_id and op not in ("=~", "!~") and not _WHOLE.match(value):
            raise CopernicaConfigError(
                f"Dataset {dataset!r}: the filter {text!r} compares the number field {name!r} "
                f"(the record id) with {value.strip()!r}, not a number Copernica reads as an "
                "id; give a whole number, e.g. 'id>1000'."
            )
        numeric = by_lower.get(lowered) in _NUMERIC
        if numeric and op not in ("=~", "!~") and value.strip():
            try:
                float(value)
            except ValueError:
                raise CopernicaConfigError(
                    f"Dataset {dataset!r}: the filter {text!r} compares the number field "
                    f"{name!r} with {value.strip()!r}, which is not a number; Copernica "
                    "would ignore it and return unfiltered data."
                ) from None


def check_filterable(entry: Dataset, filters: object) -> tuple[str, ...]:
    """The user's ``filters`` as conditions (syntax only, no call); datasets whose records
    are not filtered by their owner's fields refuse any."""
    from airflow_provider_copernica.catalog.datasets import DATASETS

    conditions = user_conditions(entry.name, filters)
    if conditions and entry.discovery is None:
        valid = ", ".join(sorted(d.name for d in DATASETS.values() if d.discovery is not None))
        raise CopernicaConfigError(
            f"Dataset {entry.name!r} does not take filters; datasets that do: {valid}"
        )
    return conditions


def id_range_conditions(entry: Dataset, id_range: object) -> tuple[str, ...]:
    """The ``fields[]`` conditions of an operator's ``id_range`` (``{"after": N, "upto":
    M}``, see :class:`~airflow_provider_copernica.engine.id_ranges.IdRange`), checked before any
    call. Only keyset-paged datasets take one: their pages are ordered by id and their
    endpoints filter on it."""
    from airflow_provider_copernica.catalog.datasets import DATASETS
    from airflow_provider_copernica.engine.id_ranges import IdRange

    if id_range is None:
        return ()
    if entry.paging != "keyset":
        valid = ", ".join(sorted(d.name for d in DATASETS.values() if d.paging == "keyset"))
        raise CopernicaConfigError(
            f"Dataset {entry.name!r} cannot be split by id_range: it is not paged by record "
            f"id; datasets that can: {valid}"
        )
    return IdRange.from_value(id_range).conditions()  # type: ignore[arg-type]
