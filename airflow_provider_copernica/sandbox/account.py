"""The sandbox's account: its identity and its daily consumption (emails sent, derived from
the deliveries; API calls, web pages and texts drawn), with their endpoints."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from airflow_provider_copernica.sandbox.emailings import Emailings
from airflow_provider_copernica.sandbox.protocol import PRODUCTS, Query, Route, page_of
from airflow_provider_copernica.sandbox.tables import QueryError
from airflow_provider_copernica.sandbox.timeutil import TZ, fmt_local, to_datetime

ACCOUNT = {
    "id": "34",
    "name": "Sandbox",
    "description": "Local Copernica sandbox account",
    "company": "Copernica Sandbox BV",
}


def consumption(
    rng: random.Random, mailings: Emailings, span: tuple[int, int]
) -> list[dict[str, Any]]:
    """One row per local day of the span."""
    per_day: dict[str, int] = {}
    for product in PRODUCTS:
        table = mailings.events[(product, "deliveries")]
        for i in range(len(table.ids)):
            local_day = fmt_local(table.ts[i])[:10]
            per_day[local_day] = per_day.get(local_day, 0) + 1
    rows: list[dict[str, Any]] = []
    day = to_datetime(span[0]).astimezone(TZ).date()
    last = to_datetime(span[1] - 1).astimezone(TZ).date()
    while day <= last:
        key = day.isoformat()
        rows.append(
            {
                "date": key,
                "emails": per_day.get(key, 0),
                "texts": rng.randrange(5),
                "fax": 0,
                "webpages": rng.randrange(200),
                "apicalls": rng.randint(100, 5000),
                "litmustests": 0,
                "twofiftyoktests": 0,
            }
        )
        day += timedelta(days=1)
    return rows


def consumption_dates(rows: list[dict[str, Any]], lo: int, hi: int) -> list[str]:
    """Ground truth: the ``date`` strings of the local days from the local date of ``lo``
    (inclusive) to the local date of ``hi`` (exclusive), UTC epochs."""
    first = to_datetime(lo).astimezone(TZ).date().isoformat()
    last = to_datetime(hi).astimezone(TZ).date().isoformat()
    return [r["date"] for r in rows if first <= r["date"] < last]


def routes(rows: list[dict[str, Any]]) -> list[Route]:
    """``identity`` and ``consumption``."""

    def identity(query: Query) -> Any:
        return dict(ACCOUNT)

    def usage(query: Query) -> Any:
        begin, end = query.get("begin"), query.get("end")
        if not begin or not end:
            raise QueryError("consumption requires begin and end (YYYY-MM-DD)")
        for name, value in (("begin", begin), ("end", end)):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise QueryError(f"invalid {name} {value!r}: expected YYYY-MM-DD") from None
        return page_of([r for r in rows if begin <= r["date"] <= end], query)

    return [(r"identity", identity), (r"consumption", usage)]
