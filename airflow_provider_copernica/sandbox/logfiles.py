"""The sandbox's daily logfiles, derived from its seeded events (with ground truth).

Each log type's rows come from one sandbox table: the six event kinds from their event
tables, ``attempts`` from the destinations (one attempt per message sent), ``retries`` from
the deliveries that needed a second attempt, and ``feedback-loop-errors`` from both products'
abuse reports. A file holds the rows of one local (Europe/Amsterdam) day, times naive local
like every Copernica time. ``bulk[(type, day)] = n`` adds ``n`` synthetic rows to a file
(the constant-memory benchmark's 200k-row file).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from airflow_provider_copernica.catalog.logfiles import LOG_TYPES
from airflow_provider_copernica.sandbox.timeutil import TZ, fmt_local, to_datetime

if TYPE_CHECKING:
    from airflow_provider_copernica.sandbox.data import SandboxData

COUNTRIES = ("NL", "BE", "DE", "NL", "FR")
CITIES = ("Amsterdam", "Antwerpen", "Berlin", "Utrecht", "Paris")
_PRODUCTS = ("draganddrop", "html")


def _family_sources(family: str, product: str | None) -> list[tuple[str, str, Callable]]:
    """(product, sandbox table, row filter) for a log family."""
    if family == "feedback-loop-errors":
        return [(p, "abuses", lambda row: True) for p in _PRODUCTS]
    if family == "attempts":
        return [(product or "draganddrop", "destinations", lambda row: True)]
    if family == "retries":
        if product == "html":
            return [("html", "deliveries", lambda row: row.get("attempt") not in (None, "0"))]
        return [("draganddrop", "deliveries", lambda row: int(row.get("attempts") or 1) > 1)]
    return [(product or "draganddrop", family, lambda row: True)]


def type_of(type_name: str) -> tuple[str, str | None] | None:
    """Copernica's type name -> (family, product; None for both)."""
    for family, names in LOG_TYPES.items():
        for product, name in zip(_PRODUCTS, names, strict=True):
            if name == type_name:
                return family, (None if names[0] == names[1] else product)
    return None


class Logfiles:
    """The logfiles of a :class:`SandboxData`, and their ground truth."""

    def __init__(self, data: SandboxData) -> None:
        self.data = data
        self.bulk: dict[tuple[str, str], int] = {}

    def entries(self, type_name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """(true UTC epoch, row) of every row of a log type, all days."""
        found = type_of(type_name)
        if found is None:
            return
        family, product = found
        prefix = type_name.split("-")[0]
        for source_product, kind, keep in _family_sources(family, product):
            table = self.data.table(kind, product=source_product)
            for i in table.alive():
                row = table.render(i)
                if keep(row):
                    yield table.ts[i], self._row(prefix, family, source_product, table.ts[i], row)

    def _row(
        self, prefix: str, family: str, product: str, moment: int, event: dict[str, Any]
    ) -> dict[str, Any]:
        ident = str(event.get("ID", event.get("id")))
        profile = int(event.get("profile") or 0)
        variant = int(ident) % 5
        row: dict[str, Any] = {
            "id": f"{prefix}-{product[0]}{ident}",
            "time": fmt_local(moment),
            "mailingid": int(event.get("mailing") or event.get("emailing") or 0),
            "profileid": profile,
            "subprofileid": int(event.get("subprofile") or 0),
            "databaseid": 7616,
            "collectionid": 0,
            "senderdomain": "news.example.com",
            "templateid": 4100 + int(event.get("mailing") or event.get("emailing") or 0) % 7,
            "tags": ("", "newsletter", "promo,autumn")[variant % 3],
            "email": f"recipient{profile}@example.com",
        }
        if family == "clicks":
            row |= {
                "url": event.get("link"),
                "ip": event.get("ip"),
                "useragent": event.get("useragent"),
                "country": COUNTRIES[variant],
                "city": CITIES[variant],
            }
        elif family == "impressions":
            row |= {"ip": event.get("ip"), "useragent": event.get("useragent")}
        elif family in ("errors", "retries"):
            row |= {"errorcode": event.get("errorcode", "4.2.2")}
            row |= {"description": event.get("description", "Mailbox full")}
            if family == "errors":
                row["errortype"] = event.get("errortype")
            else:
                row["attempt"] = 1
        elif family == "deliveries":
            row["attempts"] = int(event.get("attempts") or event.get("attempt") or 1)
        elif family in ("abuses", "feedback-loop-errors"):
            row["feedbacktype"] = "abuse"
        return row

    def rows(self, type_name: str, day: str) -> list[dict[str, Any]]:
        """The rows of one file: the type's rows of a local day, by time then id."""
        rows = [
            (moment, row)
            for moment, row in self.entries(type_name)
            if to_datetime(moment).astimezone(TZ).date().isoformat() == day
        ]
        rows.sort(key=lambda item: (item[0], item[1]["id"]))
        return [row for _, row in rows]

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
        types = [type_name] if type_name else sorted({n for ns in LOG_TYPES.values() for n in ns})
        return [
            f"{t}.{day}.log"
            for t in types
            if type_of(t) is not None and (self.bulk.get((t, day)) or self.rows(t, day))
        ]

    def expected_ids(self, type_name: str, start: datetime, end: datetime) -> list[str]:
        """Ground truth: ids of the type's rows whose true instant is in ``[start, end)``."""
        lo, hi = start.timestamp(), end.timestamp()
        return sorted(row["id"] for moment, row in self.entries(type_name) if lo <= moment < hi)

    def body(self, name: str, fmt: str) -> bytes | None:
        """The file ``name`` (``type.YYYY-MM-DD.log``) as JSON or CSV; None if there is none."""
        type_name, _, rest = name.partition(".")
        day = rest.removesuffix(".log")
        if type_of(type_name) is None or not rest.endswith(".log"):
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
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            for row in rows:
                writer.writerow(row.values())
            return out.getvalue().encode()
        return b"[" + b",".join(orjson.dumps(row) for row in rows) + b"]"


def _synthetic(type_name: str, day: str, count: int) -> Iterator[dict[str, Any]]:
    start = datetime.combine(date.fromisoformat(day), datetime.min.time())
    prefix = type_name.split("-")[0]
    for n in range(count):
        moment = start + timedelta(seconds=n * 86_000 // count)
        yield {
            "id": f"{prefix}-bulk{n}",
            "time": moment.strftime("%Y-%m-%d %H:%M:%S"),
            "mailingid": 1000 + n % 50,
            "profileid": 1_000_000 + n,
            "subprofileid": 0,
            "databaseid": 7616,
            "collectionid": 0,
            "senderdomain": "news.example.com",
            "templateid": 4100 + n % 7,
            "tags": "newsletter",
            "email": f"recipient{n}@example.com",
            "url": "https://www.example.com/offers",
            "ip": "192.0.2.10",
            "useragent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            "country": COUNTRIES[n % 5],
            "city": CITIES[n % 5],
        }


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
