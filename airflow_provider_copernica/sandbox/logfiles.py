"""The sandbox's daily logfiles, derived from its seeded events (with ground truth).

Each log type's rows come from one sandbox table: the six event kinds from their event
tables, ``attempts`` from the destinations (one attempt per message sent), ``retries`` from
the deliveries that needed a second attempt, and ``feedback-loop-errors`` from both products'
abuse reports. Publisher clicks on old-style tracked links (every fifth) are in
``pom-clicks`` without ``linkinfo`` (its page says a row depends on the tracking) and in
``pom-clicks-old`` (which has a page of its own): Copernica does not say which of the two
it writes, so the sandbox writes both. A file holds the rows of one local
(Europe/Amsterdam) day, times naive local like every Copernica time.

A row has exactly the columns Copernica documents for its type, in that order
(:data:`COLUMNS`, the sandbox's own copy of Copernica's per-type pages: nothing here is
imported from the provider, so a wrong name there cannot be served as right). ``bulk[(type, day)] = n`` adds ``n`` synthetic rows to a file (the constant-memory
benchmark's 200k-row file); ``edits[(type, day)] = f`` serves ``f(place, row)`` instead of
each row (``place`` from 1): rows that differ from the documentation, for the drift tests.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_copernica.sandbox.timeutil import TZ, fmt_local, to_datetime

if TYPE_CHECKING:
    from airflow_provider_copernica.sandbox.data import SandboxData

COUNTRIES = ("NL", "BE", "DE", "NL", "FR")
COUNTRY_NAMES = ("Netherlands", "Belgium", "Germany", "Netherlands", "France")
REGIONS = ("NH", "VAN", "BE", "UT", "IDF")
CITIES = ("Amsterdam", "Antwerpen", "Berlin", "Utrecht", "Paris")
_PRODUCTS = ("draganddrop", "html")

_MS = "email tags senderdomain profile subprofile template"
_POM = "email tags senderdomain groupid profile subprofile template document"
_GEO = "countrycode countryname regioncode city"
# Copernica's logfile type -> its columns, in the order of its (English) documentation page.
COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(spec.split())
    for name, spec in {
        "cdm-attempts": "id time mailingid profileid subprofileid databaseid collectionid "
        "senderdomain templateid tags email",
        "cdm-abuse": f"id time mail {_MS}",
        "cdm-click": f"id senderdomain time linkinfo ip header email tags {_GEO} "
        "profile subprofile template",
        "cdm-delivery": f"id time attempts {_MS}",
        "cdm-error": f"id time type status description code {_MS}",
        "cdm-impression": f"id time ip header email tags {_GEO} senderdomain "
        "profile subprofile template",
        "cdm-retry": f"id time attempt {_MS}",
        "cdm-unsubscribe": f"id time {_MS}",
        "pom-attempts": "id time groupid mailingid profileid subprofileid databaseid "
        "collectionid senderdomain templateid documentid tags email",
        "pom-abuses": f"id time mail {_POM}",
        "pom-clicks": f"id time ip header email tags {_GEO} linkinfo senderdomain groupid "
        "profile subprofile template document",
        "pom-clicks-old": f"id time ip header email tags {_GEO} senderdomain groupid "
        "profile subprofile template document",
        "pom-deliveries": f"id time attempts {_POM}",
        "pom-errors": f"id time type status description code content {_POM}",
        "pom-impressions": f"id time ip header email tags {_GEO} senderdomain groupid "
        "profile subprofile template document",
        "pom-retries": f"id time attempts {_POM}",
        "pom-unsubscribes": f"id time {_POM}",
        "feedback-loop-errors": "time response recipient header",
    }.items()
}
# The types the names page lists (pom-clicks-old has a page of its own, but is not listed
# there; the sandbox lists its files like any other).
TYPE_NAMES = tuple(COLUMNS)


def _old_style(row: dict[str, Any]) -> bool:
    return int(row.get("ID") or 0) % 5 == 4


def _sources(type_name: str) -> list[tuple[str, str, Callable[[dict[str, Any]], bool]]]:
    """(product, sandbox table, row filter) of a log type."""
    if type_name == "feedback-loop-errors":
        return [(p, "abuses", lambda row: True) for p in _PRODUCTS]
    product = "html" if type_name.startswith("pom-") else "draganddrop"
    kind = type_name.split("-")[1]
    if kind == "attempts":
        return [(product, "destinations", lambda row: True)]
    if kind == "retry":
        return [("draganddrop", "deliveries", lambda row: int(row.get("attempts") or 1) > 1)]
    if kind == "retries":
        return [("html", "deliveries", lambda row: row.get("attempt") not in (None, "0"))]
    if type_name == "pom-clicks-old":
        return [("html", "clicks", _old_style)]
    table = {
        "abuse": "abuses",
        "click": "clicks",
        "delivery": "deliveries",
        "error": "errors",
        "impression": "impressions",
        "unsubscribe": "unsubscribes",
    }.get(kind, kind)
    return [(product, table, lambda row: True)]


def _values(prefix: str, product: str, moment: int, event: dict[str, Any]) -> dict[str, Any]:
    """Every column's value for one event (a row takes those of its type)."""
    ident = int(event.get("ID", event.get("id")) or 0)
    profile = int(event.get("profile") or 0)
    mailing = int(event.get("mailing") or event.get("emailing") or 0)
    variant = ident % 5
    error = variant % 3
    attempts = max(int(event.get("attempts") or event.get("attempt") or 0), 0)
    return {
        "id": f"{prefix}-{product[0]}{ident}",
        "time": fmt_local(moment),
        "mailingid": mailing,
        "profileid": profile,
        "profile": profile,
        "subprofileid": int(event.get("subprofile") or 0),
        "subprofile": int(event.get("subprofile") or 0),
        "databaseid": 7616,
        "collectionid": 0,
        "senderdomain": "news.example.com",
        "templateid": 4100 + mailing % 7,
        "template": 4100 + mailing % 7,
        "documentid": 5200 + mailing % 3,
        "document": 5200 + mailing % 3,
        "groupid": 900 + mailing % 4,
        "tags": ("", "newsletter", "promo;autumn")[variant % 3],
        "email": f"recipient{profile}@example.com",
        "mail": f"Feedback-Type: abuse\r\nUser-Agent: ExampleFBL/1.0, rev {variant}\r\n",
        "linkinfo": str(event.get("link_id") or 3000 + variant),
        "ip": event.get("ip") or "192.0.2.10",
        "header": event.get("useragent") or "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        "countrycode": COUNTRIES[variant],
        "countryname": COUNTRY_NAMES[variant],
        "regioncode": REGIONS[variant],
        "city": CITIES[variant],
        "attempts": attempts,
        "attempt": max(attempts - 1, 1),
        "type": ("nouser", "full", "nohost")[error],
        "status": ("bounce", "defer", "bounce")[error],
        "description": ("User unknown", "Mailbox full", "Resolver error")[error],
        "code": ("5.1.1", "4.2.2", "5.1.2")[error],
        "content": ("550 5.1.1 user unknown", "452 4.2.2 mailbox full, try later", "")[error],
        "response": (500, 404, 410, 503, 500)[variant],
        "recipient": ("203.0.113.9", "198.51.100.20")[variant % 2],
    }


class Logfiles:
    """The logfiles of a :class:`SandboxData`, and their ground truth."""

    def __init__(self, data: SandboxData) -> None:
        self.data = data
        self.bulk: dict[tuple[str, str], int] = {}
        self.edits: dict[tuple[str, str], Callable[[int, dict[str, Any]], dict[str, Any]]] = {}

    def entries(self, type_name: str) -> Iterator[tuple[int, tuple[Any, ...], dict[str, Any]]]:
        """(true UTC epoch, order, row) of every row of a log type, all days."""
        columns = COLUMNS.get(type_name)
        if columns is None:
            return
        prefix = type_name.split("-")[0]
        for product, kind, keep in _sources(type_name):
            table = self.data.table(kind, product=product)
            for i in table.alive():
                event = table.render(i)
                if keep(event):
                    values = _values(prefix, product, table.ts[i], event)
                    row = {c: values[c] for c in columns}
                    if type_name == "pom-clicks" and _old_style(event):
                        del row["linkinfo"]  # an old-style click
                    yield table.ts[i], (product, i), row

    def rows(self, type_name: str, day: str) -> list[dict[str, Any]]:
        """The documented rows of one file: the type's rows of a local day, by time."""
        rows = [
            (moment, order, row)
            for moment, order, row in self.entries(type_name)
            if to_datetime(moment).astimezone(TZ).date().isoformat() == day
        ]
        rows.sort(key=lambda item: item[:2])
        return [row for _, _, row in rows]

    def dates(self) -> list[str]:
        """The local days with any logfile (every event and destination day), ascending."""
        days = {day for _, day in self.bulk}
        for kind in ("destinations", "deliveries", "impressions", "clicks", "errors"):
            for product in _PRODUCTS:
                table = self.data.table(kind, product=product)
                days.update(
                    to_datetime(table.ts[i]).astimezone(TZ).date().isoformat()
                    for i in table.alive()
                )
        return sorted(days)

    def names(self, day: str, type_name: str | None) -> list[str]:
        types = [type_name] if type_name else sorted(TYPE_NAMES)
        return [
            f"{t}.{day}.log"
            for t in types
            if t in COLUMNS and (self.bulk.get((t, day)) or self.rows(t, day))
        ]

    def expected_rows(
        self, type_name: str, start: datetime, end: datetime
    ) -> list[tuple[int, dict[str, Any]]]:
        """Ground truth: ``(place in its file from 1, row)`` of the type's rows whose true
        instant is in ``[start, end)``, by day and place."""
        lo, hi = start.timestamp(), end.timestamp()
        by_day: dict[str, list[tuple[int, tuple[Any, ...], dict[str, Any]]]] = {}
        for moment, order, row in self.entries(type_name):
            day = to_datetime(moment).astimezone(TZ).date().isoformat()
            by_day.setdefault(day, []).append((moment, order, row))
        found = []
        for day in sorted(by_day):
            ordered = sorted(by_day[day], key=lambda item: item[:2])
            for place, (moment, _, row) in enumerate(ordered, 1):
                if lo <= moment < hi:
                    found.append((place, row))
        return found

    def expected_ids(self, type_name: str, start: datetime, end: datetime) -> list[str]:
        """Ground truth: ids of the type's rows whose true instant is in ``[start, end)``."""
        return sorted(row["id"] for _, row in self.expected_rows(type_name, start, end))

    def body(self, name: str, fmt: str) -> bytes | None:
        """The file ``name`` (``type.YYYY-MM-DD.log``) as JSON or CSV; None if there is none.
        The CSV is as documented: no header, the documented column order, and no quoting
        rule (Python's csv module quotes a value with a comma)."""
        type_name, _, rest = name.partition(".")
        day = rest.removesuffix(".log")
        if type_name not in COLUMNS or not rest.endswith(".log"):
            return None
        try:
            date.fromisoformat(day)
        except ValueError:
            return None
        rows = self.rows(type_name, day)
        extra = self.bulk.get((type_name, day), 0)
        if not rows and not extra:
            return None
        if extra:
            rows = rows + list(_synthetic(type_name, day, extra))
        edit = self.edits.get((type_name, day))
        if edit is not None:
            rows = [edit(place, dict(row)) for place, row in enumerate(rows, 1)]
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            for row in rows:
                writer.writerow(row.values())
            return out.getvalue().encode()
        return b"[" + b",".join(orjson.dumps(row) for row in rows) + b"]"


def _synthetic(type_name: str, day: str, count: int) -> Iterator[dict[str, Any]]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time())
    prefix, product = type_name.split("-")[0], "html" if type_name.startswith("pom") else "dd"
    columns = COLUMNS[type_name]
    for n in range(count):
        moment = start + timedelta(seconds=n * 86_000 // count)
        event = {"ID": n, "profile": 1_000_000 + n, "mailing": 1000 + n % 50}
        values = _values(prefix, product, 0, event)
        values["id"] = f"{prefix}-bulk{n}"
        values["time"] = moment.strftime("%Y-%m-%d %H:%M:%S")
        yield {c: values[c] for c in columns}


def routes(logfiles: Logfiles, not_found: Callable[[str], Exception]) -> list[tuple[str, Callable]]:
    """The sandbox routes: ``logfiles`` (dates, or names with ``date``/``type``) and
    ``logfile/{name}/json|csv``."""

    def listing(query: Any) -> Any:
        day, type_name = query.get("date"), query.get("type")
        if not day and not type_name:
            return logfiles.dates()
        days = [day] if day else logfiles.dates()
        return [name for d in days for name in logfiles.names(d, type_name)]

    def download(query: Any, name: str, fmt: str) -> bytes:
        body = logfiles.body(name, fmt)
        if body is None:
            raise not_found(f"no logfile {name!r}")
        return body

    return [
        (r"logfiles", listing),
        (r"logfile/(?P<name>[^/]+)/(?P<fmt>json|csv)", download),
    ]
