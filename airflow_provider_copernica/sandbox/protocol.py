"""The REST v4 conventions every sandbox endpoint shares: products, query strings, paging
envelopes, error answers and responses, and :class:`Listing` (what list endpoints consult
besides their own records: the ``data_after`` cut-off and the ``churn`` fault).

Each domain module (``people``, ``emailings``, ``selections``, ``content``, ``statistics``,
``account``, ``logfiles``) serves its endpoints with ``routes(...)``: (path pattern, handler)
pairs, where a handler takes the :class:`Query` and the pattern's named groups.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from airflow_provider_copernica.sandbox.faults import Faults
from airflow_provider_copernica.sandbox.tables import Condition, QueryError, Table
from airflow_provider_copernica.sandbox.timeutil import parse_naive

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
PRODUCTS = ("draganddrop", "html")
PRODUCT_ALIASES = {"draganddrop": "draganddrop", "ms": "draganddrop", "html": "html"}
PRODUCT_ALIASES["publisher"] = "html"
PRODUCT = r"(?P<product>draganddrop|ms|html|publisher)"  # routes see the normalised name
Route = tuple[str, Callable[..., Any]]


def normalise_product(product: str | None) -> str:
    value = (product or "draganddrop").lower()
    if value not in PRODUCT_ALIASES:
        raise ValueError(
            f"unknown product {product!r}; valid products: draganddrop (ms), html (publisher)"
        )
    return PRODUCT_ALIASES[value]


class HTTPError(Exception):
    """An error answer: status and message (sent as ``{"error": {"message": ...}}``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[], None] | None = None  # runs after sending (the churn fault)


def dumps(payload: Any) -> bytes:
    return orjson.dumps(payload)


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(status, dumps({"error": {"message": message}}), headers=headers or {})


class Query:
    """Parsed query string: single values and the repeated ``fields[]``."""

    def __init__(self, raw: str) -> None:
        self.pairs = parse_qsl(raw, keep_blank_values=True)
        self.values: dict[str, str] = {}
        for key, value in self.pairs:
            self.values.setdefault(key, value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def conditions(self) -> list[Condition]:
        """The ``fields[]`` conditions the live API recognises; it silently ignores the rest
        (a plain ``fields=``, or a space between field and operator)."""
        parsed = (Condition.parse(v) for k, v in self.pairs if k == "fields[]")
        return [c for c in parsed if c is not None]

    def integer(self, name: str, default: int, low: int = 0) -> int:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise QueryError(f"invalid {name} {raw!r}: expected an integer >= {low}") from None
        if value < low:
            raise QueryError(f"invalid {name} {raw!r}: expected an integer >= {low}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.values.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise QueryError(f"invalid {name} {raw!r}: expected true or false")

    def naive(self, name: str, layout: str = "YYYY-MM-DD HH:MM:SS") -> int | None:
        raw = self.values.get(name)
        if raw is None or raw == "":
            return None
        try:
            return parse_naive(raw)
        except ValueError:
            raise QueryError(f"invalid {name} {raw!r}: expected {layout}") from None

    def choice(self, name: str, valid: tuple[str, ...], default: str) -> str:
        raw = (self.values.get(name) or default).lower()
        if raw not in valid:
            raise QueryError(f"invalid {name} {raw!r}; valid values: {', '.join(valid)}")
        return raw

    def paging(self) -> tuple[int, int, bool]:
        start = self.integer("start", 0)
        limit = min(self.integer("limit", DEFAULT_LIMIT, low=1), MAX_LIMIT)
        return start, limit, self.boolean("total", True)


def envelope(items: list[Any], start: int, limit: int, total: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"start": start, "limit": limit, "count": len(items)}
    if total is not None:
        body["total"] = total
    body["data"] = items
    return body


def page_of(sequence: list[Any], query: Query) -> dict[str, Any]:
    start, limit, with_total = query.paging()
    return envelope(
        sequence[start : start + limit], start, limit, len(sequence) if with_total else None
    )


def table_page(table: Table, rows: Sequence[int], query: Query) -> dict[str, Any]:
    """One page of a table's selected rows, rendered."""
    start, limit, with_total = query.paging()
    items = [table.render(i) for i in rows[start : start + limit]]
    return envelope(items, start, limit, len(rows) if with_total else None)


def local_range(
    table: Table, low: int | None, high: int | None
) -> list[tuple[str, Callable[[int], bool]]]:
    """Inclusive naive-local range on the table's timestamp (both ends, like Copernica)."""
    lts = table.lts
    extra: list[tuple[str, Callable[[int], bool]]] = []
    if low is not None:
        extra.append((f"lts>={low}", lambda i: lts[i] >= low))
    if high is not None:
        extra.append((f"lts<={high}", lambda i: lts[i] <= high))
    return extra


@dataclass(frozen=True)
class Listing:
    """What list endpoints consult besides their own records: the ``data_after`` cut-off
    (``hidden``), and the faults that change a list while it is read (``churn``)."""

    faults: Faults
    hidden: Callable[[], int | None]
    churn: Callable[[Table, int], None]  # the mutation: delete the next record, insert a copy
    # the mutation of an event listing: a served event goes, a new one arrives
    churn_events: Callable[[Table, Sequence[int]], None] | None = None

    def after_page(self, table: Table, rows: Sequence[int]) -> Callable[[], None] | None:
        """What runs once a page listing ``rows`` of ``table`` is sent (None: nothing): with
        the ``churn`` fault, the mutation after the page's last record."""
        if not self.faults.churn or not rows:
            return None
        last = table.ids[rows[-1]]
        return lambda: self.churn(table, last)

    def after_event_page(
        self, table: Table, rows: Sequence[int], query: Query
    ) -> Callable[[], None] | None:
        """With the ``churn`` fault, what runs once a page of an event listing (``rows``:
        every matching event, ``query``: its ``start``/``limit``) is sent (see
        :func:`~.faults.churn_events`)."""
        if not self.faults.churn or self.churn_events is None:
            return None
        start, limit, _ = query.paging()
        served = list(rows[start : start + limit])
        if not served:
            return None
        churn = self.churn_events
        return lambda: churn(table, served)
