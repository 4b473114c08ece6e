"""Sandbox record storage and the query engine behind every list endpoint.

A :class:`Table` holds one list endpoint's records sorted by id, with each record's true UTC
instant (``ts``) and its naive local wall-clock value (``lts``, what Copernica filters on).
Records are either pre-rendered dicts or rendered on demand (profiles, so 500k of them stay
cheap). :func:`select` evaluates ``fields[]`` conditions, ordering and range filters and
caches the result per table version, so keyset paging costs a bisect per page.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from airflow_provider_copernica.sandbox.timeutil import local_naive, parse_naive

JSON_CACHE_ROWS = 600_000  # per table and shape: about 250 MB at most for 500k profiles

OPERATORS = ("==", "!=", "<>", "<=", ">=", "=~", "!~", "<", ">")
# A field name directly followed by an operator: with a space in between (``city ==x``) the
# live API does not recognise the condition and ignores it.
_CONDITION = re.compile(r"^([A-Za-z_][\w.\-]*)(==|!=|<>|<=|>=|=~|!~|<|>)(.*)$", re.S)


class QueryError(ValueError):
    """A request parameter the sandbox refuses with HTTP 400."""


class Ignored(Exception):
    """A ``fields[]`` condition the live API ignores silently (unknown field, bad value)."""


@dataclass(frozen=True)
class Condition:
    """One ``fields[]`` condition: ``field op value``."""

    field: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Condition | None:
        """The condition, or None when the live API would not recognise it (and ignore it)."""
        match = _CONDITION.match(text)
        if not match:
            return None
        name, op, value = match.groups()
        return cls(name, "!=" if op == "<>" else op, value.strip())


def _like(pattern: str) -> re.Pattern[str]:
    parts = (".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.I | re.S)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if left is None:
        return False
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "<=":
        return left <= right
    return left >= right


@dataclass
class Table:
    """The records of one list endpoint, ordered by id (see the module docstring)."""

    name: str
    id_key: str = "ID"
    ts_key: str | None = None
    # name -> Copernica field type, for fields[] filters on record fields (profiles, subprofiles)
    field_types: dict[str, str] = field(default_factory=dict)
    special_fields: tuple[str, ...] = ()  # e.g. ("id", "code", "modified") or ("id", "timestamp")
    ids: array = field(default_factory=lambda: array("q"))
    ts: array = field(default_factory=lambda: array("q"))
    lts: array = field(default_factory=lambda: array("q"))
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)  # extra per-row columns
    deleted: set[int] = field(default_factory=set)
    version: int = 0
    renderer: Callable[[int, bool], dict[str, Any]] | None = None
    field_getter: Callable[[int, str], str | None] | None = None
    code_getter: Callable[[int], str] | None = None
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _base: int | None = None
    _json: tuple[dict[int, bytes], dict[int, bytes]] = field(default_factory=lambda: ({}, {}))

    def __len__(self) -> int:
        return len(self.ids) - len(self.deleted)

    def render(self, index: int, dataonly: bool = False) -> dict[str, Any]:
        if self.renderer is not None:
            return self.renderer(index, dataonly)
        return self.rows[index]

    def render_json(self, index: int, dataonly: bool = False) -> bytes:
        """The record as JSON; rendered-on-demand records are cached (bounded) as bytes,
        which makes repeated reads of large profile sets several times faster."""
        if self.renderer is None:
            return orjson.dumps(self.rows[index])
        cache = self._json[dataonly]
        data = cache.get(index)
        if data is None:
            data = orjson.dumps(self.renderer(index, dataonly))
            if len(cache) < JSON_CACHE_ROWS:
                cache[index] = data
        return data

    def append(self, ident: int, ts: int, row: dict[str, Any] | None = None, **cols: Any) -> int:
        """Add a record (ids must stay ascending); returns its row index."""
        if len(self.ids) and ident <= self.ids[-1]:
            raise ValueError(f"{self.name}: new id {ident} must exceed {self.ids[-1]}")
        self.ids.append(ident)
        self.ts.append(ts)
        self.lts.append(local_naive(ts))
        if row is not None:
            self.rows.append(row)
        for name, value in cols.items():
            self.columns.setdefault(name, []).append(value)
        if self._base is not None:  # bulk loading skips cache invalidation
            self.touch()
        return len(self.ids) - 1

    def checkpoint(self) -> None:
        """Mark the generated state: :meth:`rollback` returns to it."""
        self._base = len(self.ids)
        self.touch()

    def rollback(self) -> bool:
        """Undo appends and deletes since :meth:`checkpoint`; True if anything changed."""
        base = self._base if self._base is not None else len(self.ids)
        if len(self.ids) == base and not self.deleted:
            return False
        for seq in (self.ids, self.ts, self.lts, self.rows, *self.columns.values()):
            del seq[base:]
        self.deleted.clear()
        self.touch()
        return True

    def delete(self, index: int) -> None:
        self.deleted.add(index)
        self.touch()

    def touch(self) -> None:
        self.version += 1
        self._cache.clear()
        self._json = ({}, {})

    def index_of(self, ident: int) -> int | None:
        pos = bisect_left(self.ids, ident)
        if pos < len(self.ids) and self.ids[pos] == ident and pos not in self.deleted:
            return pos
        return None

    def alive(self) -> Sequence[int]:
        if not self.deleted:
            return range(len(self.ids))
        return [i for i in range(len(self.ids)) if i not in self.deleted]

    # -- filters -------------------------------------------------------------------------

    def field_named(self, name: str) -> str | None:
        """The record field called ``name``, matched case-insensitively like the live API."""
        lowered = name.lower()
        return next((f for f in self.field_types if f.lower() == lowered), None)

    def predicate(self, cond: Condition) -> Callable[[int], bool] | None:
        """The row test of one condition, or None when the live API ignores the condition:
        an unknown field or a value that does not parse. Field names match
        case-insensitively, and a record field (say ``modified``) takes the place of a
        property of the same name (except ``id``)."""
        try:
            return self._predicate(cond)
        except Ignored:
            return None

    def _predicate(self, cond: Condition) -> Callable[[int], bool]:
        lowered = cond.field.lower()
        own = self.field_named(cond.field) if lowered != "id" else None
        if own is not None and self.field_getter is not None:
            return self._field_predicate(own, cond.op, cond.value)
        if lowered not in self.special_fields:
            raise Ignored(cond.field)
        name, op, raw = lowered, cond.op, cond.value
        if name in ("modified", "timestamp", "timestampsent"):
            if op in ("=~", "!~"):
                pattern, lts = _like(raw), self.lts
                from airflow_provider_copernica.sandbox.timeutil import fmt_naive

                hit = op == "=~"
                return lambda i: bool(pattern.fullmatch(fmt_naive(lts[i]))) == hit
            try:
                bound = parse_naive(raw)
            except ValueError:
                raise Ignored(raw) from None
            lts = self.lts
            return lambda i: _compare(op, lts[i], bound)
        if name == "id":
            ids = self.ids
            if op in ("=~", "!~"):
                pattern, hit = _like(raw), op == "=~"
                return lambda i: bool(pattern.fullmatch(str(ids[i]))) == hit
            try:
                number = int(raw)
            except ValueError:
                raise Ignored(raw) from None
            return lambda i: _compare(op, ids[i], number)
        if name == "code" and self.code_getter is not None:
            getter = self.code_getter
            if op in ("=~", "!~"):
                pattern, hit = _like(raw), op == "=~"
                return lambda i: bool(pattern.fullmatch(getter(i))) == hit
            return lambda i: _compare(op, getter(i), raw)
        raise Ignored(cond.field)

    def _field_predicate(self, name: str, op: str, raw: str) -> Callable[[int], bool]:
        getter = self.field_getter
        assert getter is not None
        if op in ("=~", "!~"):
            pattern, hit = _like(raw), op == "=~"
            return lambda i: bool(pattern.fullmatch(getter(i, name) or "")) == hit
        if self.field_types[name] in ("integer", "float"):
            try:
                number = float(raw) if raw else 0.0  # an empty value means 0
            except ValueError:
                raise Ignored(raw) from None

            def numeric(i: int) -> bool:
                value = getter(i, name)
                try:
                    return _compare(op, float(value) if value not in (None, "") else None, number)
                except ValueError:
                    return False

            return numeric
        folded = raw.lower()  # text values match case-insensitively too
        return lambda i: _compare(op, (getter(i, name) or "").lower(), folded)

    def sort_key(self, orderby: str) -> Callable[[int], Any]:
        if orderby == "modified" or orderby == self.ts_key:
            lts, ids = self.lts, self.ids
            return lambda i: (lts[i], ids[i])
        if orderby in self.field_types and self.field_getter is not None:
            getter, ids = self.field_getter, self.ids
            if self.field_types[orderby] in ("integer", "float"):

                def numeric(i: int) -> tuple[float, int]:
                    try:
                        return (float(getter(i, orderby) or 0), ids[i])
                    except ValueError:
                        return (0.0, ids[i])

                return numeric
            return lambda i: (getter(i, orderby) or "", ids[i])
        valid = ["id", "modified", *self.field_types] if self.field_types else ["id"]
        raise QueryError(f"invalid orderby {orderby!r}; valid values: {', '.join(valid)}")


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Selection:
    """Row indices matching a query, in output order."""

    rows: Sequence[int]
    total: int


def select(
    table: Table,
    conditions: Sequence[Condition] = (),
    *,
    orderby: str = "id",
    order: str = "asc",
    extra: Sequence[tuple[str, Callable[[int], bool]]] = (),
    hidden_from: int | None = None,
) -> Selection:
    """Rows of ``table`` matching ``conditions`` (and ``extra`` named predicates), ordered.

    ``hidden_from``: rows with ``ts >= hidden_from`` are left out (the ``data_after`` fault).
    Conditions on ``id`` are applied by bisection when ordering by id, so keyset paging is
    cheap after the first page of a query.
    """
    orderby = orderby.lower() if orderby.lower() in ("id", "modified") else orderby
    if order not in ("asc", "desc"):
        raise QueryError(f"invalid order {order!r}; valid values: asc, desc")
    id_conds = [
        c
        for c in conditions
        if c.field.lower() == "id" and "id" in table.special_fields and _is_int(c.value)
    ]
    other = [c for c in conditions if c not in id_conds]
    by_id = orderby == "id"
    key: tuple[Any, ...] = (
        table.version,
        tuple(other),
        orderby,
        tuple(name for name, _ in extra),
        hidden_from,
    )
    if not by_id:
        key += (tuple(id_conds),)
    cached = table._cache.get(key)
    if cached is None:
        predicates = [p for p in map(table.predicate, other) if p is not None]
        predicates += [fn for _, fn in extra]
        if hidden_from is not None:
            ts = table.ts
            predicates.append(lambda i: ts[i] < hidden_from)
        if not by_id:
            predicates += [p for p in map(table.predicate, id_conds) if p is not None]
            sort_key = table.sort_key(orderby)  # validates orderby even for empty tables
        rows: Sequence[int] = table.alive()
        if predicates:
            rows = [i for i in rows if all(p(i) for p in predicates)]
        if not by_id:
            rows = sorted(rows, key=sort_key)
        row_ids = table.ids if isinstance(rows, range) else [table.ids[i] for i in rows]
        cached = (rows, row_ids)
        table._cache[key] = cached
        if len(table._cache) > 64:
            table._cache.popitem(last=False)
    rows, row_ids = cached
    if by_id:
        lo, hi = 0, len(rows)
        for cond in id_conds:
            number = int(cond.value)
            if cond.op == ">":
                lo = max(lo, bisect_right(row_ids, number))
            elif cond.op == ">=":
                lo = max(lo, bisect_left(row_ids, number))
            elif cond.op == "<":
                hi = min(hi, bisect_left(row_ids, number))
            elif cond.op == "<=":
                hi = min(hi, bisect_right(row_ids, number))
            elif cond.op == "==":
                lo = max(lo, bisect_left(row_ids, number))
                hi = min(hi, bisect_right(row_ids, number))
        rows = rows[lo:hi] if lo < hi else []
        rest = [c for c in id_conds if c.op in ("!=", "=~", "!~")]
        if rest:
            preds = [p for p in map(table.predicate, rest) if p is not None]
            rows = [i for i in rows if all(p(i) for p in preds)]
    if order == "desc":
        rows = rows[::-1]
    return Selection(rows, len(rows))
