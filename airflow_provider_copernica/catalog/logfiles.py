"""Copernica's daily logfiles (``logfile_events``): log types, their documented columns,
the check of each row against them, streaming parsing.

Copernica writes one logfile per type and local day (``cdm-click.2026-10-25.log``). The
``logfiles`` call lists the dates it keeps, ``logfiles?date=&type=`` the files of a day, and
``logfile/{name}/json`` downloads one. The ``log_type`` option is a family (``clicks``) that
the ``product`` option maps to Copernica's type name (Marketing Suite ``cdm-click``,
Publisher ``pom-clicks``), or that type name itself.

Columns (:data:`COLUMNS`): each type has the columns Copernica's page for that type
documents, in its order and under its names (``profileid`` in the attempts logs,
``profile`` in every other one). A JSON row is read by key. Where the docs contradict
themselves the row's own name is read (:data:`ALIASES`, :data:`OPTIONAL`), and
``feedback-loop-errors``, which has no ``id``, gets the key :data:`ROW_KEY`. Every file of
a run is read once for its keys before any row is written (:class:`KeySurvey`): a
documented column missing from a row, or a key Copernica does not document, is counted
and named, and ``schema_policy`` decides what happens (``faithful/drift.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.schema import Column, ColumnType, type_of_value
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset

# family -> (Marketing Suite / drag-and-drop type, Publisher / html type), after the
# "GET logfiles names" page; feedback-loop errors are one type for both products.
LOG_TYPES: Mapping[str, tuple[str, str]] = {
    "attempts": ("cdm-attempts", "pom-attempts"),
    "deliveries": ("cdm-delivery", "pom-deliveries"),
    "retries": ("cdm-retry", "pom-retries"),
    "impressions": ("cdm-impression", "pom-impressions"),
    "clicks": ("cdm-click", "pom-clicks"),
    "errors": ("cdm-error", "pom-errors"),
    "unsubscribes": ("cdm-unsubscribe", "pom-unsubscribes"),
    "abuses": ("cdm-abuse", "pom-abuses"),
    "feedback-loop-errors": ("feedback-loop-errors", "feedback-loop-errors"),
}
_PRODUCT_INDEX = {"draganddrop": 0, "html": 1}
# Copernica's type name -> (family, product or None when it serves both). ``pom-clicks-old``
# (old-style Publisher link tracking) has its own page but is not on the names page: it is
# accepted by its type name only.
TYPE_NAMES: Mapping[str, tuple[str, str | None]] = {
    **{
        name: (family, None if dd == html else product)
        for family, (dd, html) in LOG_TYPES.items()
        for product, name in zip(_PRODUCT_INDEX, (dd, html), strict=True)
    },
    "pom-clicks-old": ("clicks", "html"),
}

# The column types: ids are numbers (the JSON example sends them as numbers, 0 when unused),
# ``time`` is Copernica's naive local time; everything else is text (``linkinfo`` too: the
# pages call it a link ID but never show one, and a text column loses no value).
_TYPES: Mapping[str, ColumnType] = {
    "time": "timestamp",
    **dict.fromkeys(
        (
            *("mailingid", "profileid", "subprofileid", "databaseid", "collectionid"),
            *("templateid", "documentid", "profile", "subprofile", "template", "document"),
            *("groupid", "attempts", "attempt", "response"),
        ),
        "int",
    ),
}
_MS_EVENT = "email tags senderdomain profile subprofile template"
_POM_EVENT = "email tags senderdomain groupid profile subprofile template document"
_GEO = "countrycode countryname regioncode city"
# Copernica's type name -> its columns, in the order its (English) page documents them
# (``rest-cdm-click-logfile`` and the like).
_DOCUMENTED: Mapping[str, str] = {
    "cdm-attempts": "id time mailingid profileid subprofileid databaseid collectionid "
    "senderdomain templateid tags email",
    "cdm-abuse": f"id time mail {_MS_EVENT}",
    "cdm-click": f"id senderdomain time linkinfo ip header email tags {_GEO} "
    "profile subprofile template",
    "cdm-delivery": f"id time attempts {_MS_EVENT}",
    "cdm-error": f"id time type status description code {_MS_EVENT}",
    "cdm-impression": f"id time ip header email tags {_GEO} senderdomain profile subprofile "
    "template",
    "cdm-retry": f"id time attempt {_MS_EVENT}",
    "cdm-unsubscribe": f"id time {_MS_EVENT}",
    "pom-attempts": "id time groupid mailingid profileid subprofileid databaseid collectionid "
    "senderdomain templateid documentid tags email",
    "pom-abuses": f"id time mail {_POM_EVENT}",
    "pom-clicks": f"id time ip header email tags {_GEO} linkinfo senderdomain groupid profile "
    "subprofile template document",
    "pom-clicks-old": f"id time ip header email tags {_GEO} senderdomain groupid profile "
    "subprofile template document",
    "pom-deliveries": f"id time attempts {_POM_EVENT}",
    "pom-errors": f"id time type status description code content {_POM_EVENT}",
    "pom-impressions": f"id time ip header email tags {_GEO} senderdomain groupid profile "
    "subprofile template document",
    "pom-retries": f"id time attempts {_POM_EVENT}",
    "pom-unsubscribes": f"id time {_POM_EVENT}",
    "feedback-loop-errors": "time response recipient header",
}
ROW_KEY = "rowkey"
"""``feedback-loop-errors`` has no ``id``: its key is ``<time>|<recipient>|<n>``, the row's
``time`` as Copernica writes it, its ``recipient`` and its place in the file (1 for the
first row). A re-run reads the same file, so it gives every row the same key."""
_KEYED = {"feedback-loop-errors": ROW_KEY}

COLUMNS: Mapping[str, tuple[Column, ...]] = MappingProxyType(
    {
        name: tuple(
            ([Column(_KEYED[name])] if name in _KEYED else [])
            + [Column(c, _TYPES.get(c, "str")) for c in spec.split()]
        )
        for name, spec in _DOCUMENTED.items()
    }
)
"""Copernica's type name -> its output columns (the documented ones, and a key first where
the type has no ``id``)."""

ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        # the retry count: ``attempt`` in cdm-retry and the Dutch pom-retry page,
        # ``attempts`` in the English pom-retries page
        "cdm-retry": {"attempts": "attempt"},
        "pom-retries": {"attempt": "attempts"},
    }
)
"""Type -> {the other documented spelling of a column: the column}. A row that carries the
other spelling (and not the column's) is read into the column: it is documented, not drift."""

OPTIONAL: Mapping[str, frozenset[str]] = MappingProxyType({"pom-clicks": frozenset({"linkinfo"})})
"""Type -> documented columns a row may lack: the pom-clicks page says a record's content
depends on the link tracking (new or old); an old-style row has no ``linkinfo``."""


def columns_of(type_name: str) -> tuple[Column, ...]:
    """The output columns of one of Copernica's log types (``cdm-click``)."""
    return COLUMNS[type_name]


def check_log_type(dataset: str, value: object) -> str:
    """one of attempts, deliveries, retries, impressions, clicks, errors, unsubscribes,
    abuses, feedback-loop-errors (or Copernica's type name, e.g. cdm-click, pom-clicks)"""
    if value in LOG_TYPES or value in TYPE_NAMES:
        return str(value)
    raise CopernicaConfigError(
        f"Unknown log_type {value!r} for dataset {dataset!r}; valid log types: "
        f"{', '.join(LOG_TYPES)} (per product), or Copernica's type names: "
        f"{', '.join(sorted(TYPE_NAMES))}"
    )


def type_name_of(options: Mapping[str, Any]) -> str:
    """Copernica's type name for the ``log_type`` and ``product`` options."""
    product = str(options.get("product") or "draganddrop")
    given = str(options["log_type"])
    if given in LOG_TYPES:
        return LOG_TYPES[given][_PRODUCT_INDEX[product]]
    family, owner = TYPE_NAMES[given]
    if owner is not None and owner != product:
        raise CopernicaConfigError(
            f"log_type {given!r} is a {owner} log, but the product is {product!r}: give "
            f"product={owner!r}, or log_type={family!r} for the {product} log"
        )
    return given


def configure(entry: Dataset, options: Mapping[str, Any]) -> Dataset:
    """The ``logfile_events`` entry for one log type: its Copernica type name (sent as
    ``type=``), its documented columns and its key."""
    type_name = type_name_of(options)
    return replace(
        entry,
        columns=COLUMNS[type_name],
        key=_KEYED.get(type_name, entry.key),
        extra_params=(("type", type_name),),
        description=f"{entry.description} ({type_name})",
        configure=None,
    )


def _counted(counts: Mapping[str, int], rows: int) -> str:
    return ", ".join(f"{name} ({n} of {rows} rows)" for name, n in counts.items())


class KeySurvey:
    """The keys of one log type's rows, against its documented columns: how many rows lack
    each documented column, and which keys Copernica does not document (with their count
    and the type of their first value). Reads rows; keeps only counters."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        self.documented = tuple(c.name for c in COLUMNS[type_name] if c.name != ROW_KEY)
        self._expected = frozenset(self.documented)
        self._aliases = ALIASES.get(type_name, {})
        self._optional = OPTIONAL.get(type_name, frozenset())
        self.files = 0
        self.rows = 0
        self.missing: Counter[str] = Counter()
        """Documented column -> rows without it."""
        self.extra: Counter[str] = Counter()
        """Undocumented key -> rows with it."""
        self.aliased: Counter[str] = Counter()
        """The other documented spelling of a column (:data:`ALIASES`) -> rows with it."""
        self.optional: Counter[str] = Counter()
        """A column a row may lack (:data:`OPTIONAL`) -> rows without it."""
        self._extra_types: dict[str, ColumnType] = {}

    def scan(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Count one file's rows."""
        self.files += 1
        expected = self._expected
        for record in records:
            self.rows += 1
            if record.keys() != expected:
                self._differs(record)

    def _differs(self, record: Mapping[str, Any]) -> None:
        keys = set(record)
        for alias, column in self._aliases.items():
            if alias in keys and column not in keys:
                self.aliased[alias] += 1
                keys.discard(alias)
                keys.add(column)
        for name in self.documented:
            if name not in keys:
                (self.optional if name in self._optional else self.missing)[name] += 1
        for key in record:
            if key in keys and key not in self._expected:
                self.extra[key] += 1
                if key not in self._extra_types and record[key] is not None:
                    self._extra_types[key] = type_of_value(record[key])

    @property
    def clean(self) -> bool:
        """Every row has exactly the documented columns (or their documented variants)."""
        return not self.missing and not self.extra

    def new_columns(self) -> list[Column]:
        """The undocumented keys as columns, in the order they were first seen."""
        return [Column(key, self._extra_types.get(key, "str")) for key in self.extra]

    def differences(self) -> str:
        """``documented column(s) missing: profile (1 of 40 rows); undocumented key(s): ...``"""
        parts = []
        if self.missing:
            parts.append(f"documented column(s) missing: {_counted(self.missing, self.rows)}")
        if self.extra:
            parts.append(f"undocumented key(s): {_counted(self.extra, self.rows)}")
        return "; ".join(parts) or "none"

    def notes(self) -> str:
        """What the documentation allows either way (read, not drift); empty if nothing."""
        parts = [
            f"{n} of {self.rows} rows carry {alias!r}, read as {self._aliases[alias]!r}"
            for alias, n in self.aliased.items()
        ]
        parts += [
            f"{n} of {self.rows} rows have no {name!r} (old-style rows, documented)"
            for name, n in self.optional.items()
        ]
        return "; ".join(parts)


def read_rows(type_name: str, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One file's records as the columns read them: a column's other documented spelling
    is read into it (:data:`ALIASES`), and a type without ``id`` gets its key (:data:`ROW_KEY`)."""
    aliases = tuple(ALIASES.get(type_name, {}).items())
    if type_name in _KEYED:
        key = _KEYED[type_name]
        for place, record in enumerate(records, 1):
            record[key] = f"{record.get('time')}|{record.get('recipient')}|{place}"
            yield record
    elif aliases:
        for record in records:
            for alias, column in aliases:
                if alias in record and column not in record:
                    record[column] = record.pop(alias)
            yield record
    else:
        yield from records


def type_table() -> list[tuple[str, str, str, tuple[Column, ...]]]:
    """``(type name, log_type family, product, columns)`` per log type: Marketing Suite's,
    then Publisher's (``pom-clicks-old`` after ``pom-clicks``), then the shared one."""
    order = [dd for dd, html in LOG_TYPES.values() if dd != html]
    order += [html for dd, html in LOG_TYPES.values() if dd != html]
    order.insert(order.index("pom-clicks") + 1, "pom-clicks-old")
    order += [dd for dd, html in LOG_TYPES.values() if dd == html]
    return [
        (name, TYPE_NAMES[name][0], TYPE_NAMES[name][1] or "both", COLUMNS[name]) for name in order
    ]


def check_file_name(name: object) -> str:
    """A file name from ``logfiles?date=&type=``; it goes into a URL path."""
    text = name if isinstance(name, str) else ""
    if not text or text.startswith(".") or not all(c.isalnum() or c in "._-" for c in text):
        raise CopernicaAPIError(f"Copernica listed an unexpected logfile name {name!r}")
    return text


def ends_like_json_array(stream: IO[bytes]) -> bool:
    """A complete JSON array download ends with ``]`` (or is empty): a cheap check, before
    any row is read, that catches a body cut off in transit (the download is then retried)."""
    end = stream.seek(0, 2)
    stream.seek(max(0, end - 64))
    tail = stream.read().rstrip()
    return not tail or tail.endswith(b"]")


def iter_json_records(stream: IO[bytes], chunk_size: int = 1 << 16) -> Iterator[dict[str, Any]]:
    """The objects of a JSON array read from ``stream`` one at a time: memory holds one
    chunk and one record, whatever the file's size."""
    decoder = json.JSONDecoder()
    buffer, position, started, done = "", 0, False, False
    tail = b""  # an incomplete UTF-8 sequence at a chunk's end
    while True:
        # skip whitespace and separators; fetch more text whenever the buffer runs dry
        while position < len(buffer) and buffer[position] in " \t\r\n,":
            position += 1
        if position < len(buffer) and not started:
            if buffer[position] != "[":
                raise CopernicaAPIError("a logfile is not a JSON array")
            started, position = True, position + 1
            continue
        if position < len(buffer) and buffer[position] == "]":
            return
        if position < len(buffer):
            try:
                record, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                if done:
                    raise CopernicaAPIError("a logfile ends in the middle of a record") from None
                record = None
            if record is not None:
                if not isinstance(record, dict):
                    raise CopernicaAPIError("a logfile record is not a JSON object")
                position = end
                yield record
                continue
        if done:
            if started:
                raise CopernicaAPIError("a logfile ends before its closing ']'")
            return  # an empty file: no records
        data = stream.read(chunk_size)
        done = not data
        data, tail = tail + data, b""
        cut = len(data)
        while cut and not done and (data[cut - 1] & 0xC0) == 0x80:
            cut -= 1  # continuation bytes: keep the whole sequence for the next chunk
        if cut and not done and data[cut - 1] >= 0xC0:
            cut -= 1
        data, tail = data[:cut], data[cut:]
        buffer = buffer[position:] + data.decode("utf-8")
        position = 0
