"""Copernica's daily logfiles (``logfile_events``): log types, columns, streaming parsing.

Copernica writes one logfile per type and local day (``cdm-click.2026-10-25.log``). The
``logfiles`` call lists the dates it keeps, ``logfiles?date=&type=`` the files of a day, and
``logfile/{name}/json`` downloads one. The ``log_type`` option is a family (``clicks``) that
the ``product`` option maps to Copernica's type name (Marketing Suite ``cdm-click``,
Publisher ``pom-clicks``), or that type name itself.

What the logfiles give that the event endpoints do not: the recipient's ``email``, the
emailing's ``tags`` and ``templateid``, the sender domain, the database/collection, geo data
on clicks, and the ``attempts``, ``retries`` and ``feedback-loop-errors`` types, which have no
event endpoint. Cost: one call per file (whatever its size) plus one per day for its file
names and one for the list of dates, instead of one per 1,000 events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.schema import Column
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
# Copernica's type name -> (family, product or None when it serves both)
TYPE_NAMES: Mapping[str, tuple[str, str | None]] = {
    name: (family, None if dd == html else product)
    for family, (dd, html) in LOG_TYPES.items()
    for product, name in zip(_PRODUCT_INDEX, (dd, html), strict=True)
}

_COMMON = (
    "id time:timestamp mailingid:int profileid:int subprofileid:int databaseid:int "
    "collectionid:int senderdomain templateid:int tags email"
)
_EXTRA = {
    "clicks": "url ip useragent country city",
    "impressions": "ip useragent",
    "errors": "errorcode errortype description",
    "deliveries": "attempts:int",
    "retries": "attempt:int errorcode description",
    "abuses": "feedbacktype",
    "feedback-loop-errors": "feedbacktype description",
}


def columns_of(family: str) -> tuple[Column, ...]:
    spec = f"{_COMMON} {_EXTRA.get(family, '')}".split()
    return tuple(Column(n, k or "str") for n, _, k in (s.partition(":") for s in spec))  # type: ignore[arg-type]


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


def configure(entry: Dataset, options: Mapping[str, Any]) -> Dataset:
    """The ``logfile_events`` entry for one log type: its Copernica type name (sent as
    ``type=``) and its columns."""
    product = str(options.get("product") or "draganddrop")
    given = str(options["log_type"])
    if given in LOG_TYPES:
        family, type_name = given, LOG_TYPES[given][_PRODUCT_INDEX[product]]
    else:
        family, owner = TYPE_NAMES[given]
        if owner is not None and owner != product:
            raise CopernicaConfigError(
                f"log_type {given!r} is a {owner} log, but the product is {product!r}: give "
                f"product={owner!r}, or log_type={family!r} for the {product} log"
            )
        type_name = given
    return replace(
        entry,
        columns=columns_of(family),
        extra_params=(("type", type_name),),
        description=f"{entry.description} ({type_name})",
        configure=None,
    )


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
