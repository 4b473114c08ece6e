"""Paging styles: one small class per style, registered by name (after dlt's paginators).

A paginator owns the paging parameters of one listing request and reads each reply:

- :meth:`Paginator.init_request`: the first request's parameters;
- :meth:`Paginator.fetch`: one request (the hook's JSON ``get`` unless overridden);
- :meth:`Paginator.update_state`: the records of a reply, and whether another page follows;
- :meth:`Paginator.update_request`: the next request's parameters;
- :meth:`Paginator.concurrent`: optionally, the same pages with several requests in flight.

:func:`walk_pages` is the one loop over them; :func:`iter_pages` (and :func:`iter_records`)
is how the engine, and your own tasks, page a listing: the engine calls the hook's
``get``/``download``, the hook never calls back. A catalog entry names its style
(``Dataset.paging``); a new style is one subclass plus ``@register_paginator("name")``.

Concurrent paging (``max_concurrency`` > 1) keeps the output of the sequential walk, in the
same order: offset pages are fetched at the offsets the first page's ``total`` gives;
keyset listings are cut into id-range partitions (:class:`KeysetPartitions`).
"""

from __future__ import annotations

import copy
import itertools
import math
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow_provider_copernica.catalog.logfiles import ends_like_json_array, iter_json_records
from airflow_provider_copernica.client.request_core import Params, describe, query_pairs
from airflow_provider_copernica.engine.id_ranges import IdRange
from airflow_provider_copernica.engine.streams import Latch, OrderedStreams
from airflow_provider_copernica.exceptions import CopernicaAPIError

if TYPE_CHECKING:
    from airflow_provider_copernica.hooks.copernica import CopernicaHook

Pairs = list[tuple[str, str]]


class Paginator:
    """One paging style. ``owns`` names the parameters it sets; the caller's are dropped."""

    owns: ClassVar[tuple[str, ...]] = ()
    countable: ClassVar[bool] = False
    """The first page's envelope ``total`` counts every record (a ``limit=1`` probe works)."""

    def __init__(self, page_size: int, what: str) -> None:
        self.page_size = page_size
        self.what = what  # "GET /v4/...": how errors name the request
        self.has_next = True

    def init_request(self, base: Pairs) -> Pairs:
        return base

    def fetch(self, hook: CopernicaHook, path: str, params: Pairs) -> Any:
        """One request: decoded JSON by default (a file download would stream it instead)."""
        return hook.get(path, params)

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def update_request(self, base: Pairs) -> Pairs:
        raise NotImplementedError

    def concurrent(
        self, hook: CopernicaHook, path: str, base: Pairs, width: int
    ) -> Iterator[list[dict[str, Any]]] | None:
        """The pages with up to ``width`` requests in flight, or None (this style pages one
        request at a time)."""
        return None


PAGINATORS: dict[str, type[Paginator]] = {}


def register_paginator(name: str) -> Callable[[type[Paginator]], type[Paginator]]:
    """Class decorator: make a paging style available to catalog entries as ``name``."""

    def register(cls: type[Paginator]) -> type[Paginator]:
        PAGINATORS[name] = cls
        return cls

    return register


def get_paginator(name: str) -> type[Paginator]:
    try:
        return PAGINATORS[name]
    except KeyError:  # a catalog bug, not user input
        raise ValueError(f"unknown paging style {name!r}; known: {', '.join(PAGINATORS)}") from None


def records_of(body: Any) -> list[dict[str, Any]]:
    """The records of a reply: an envelope's ``data``, or a bare JSON array."""
    if isinstance(body, Mapping):
        return body.get("data") or []
    return list(body or [])


@register_paginator("unpaged")
class Unpaged(Paginator):
    """One request, one page (the answer's records, or the answer itself as one record).
    Named apart from the plan ``single`` (one paged listing per window filter)."""

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        self.has_next = False
        if isinstance(body, Mapping) and not isinstance(body.get("data"), list):
            return [dict(body)]
        return records_of(body)


@register_paginator("offset")
class OffsetPaginator(Paginator):
    """``start``/``limit`` pages until ``start + count >= total``: the first page asks for the
    total (``total=true``), later ones do not, so no empty page is fetched after the last
    one. A caller's ``total=false`` is kept: pages then run until a short one. A bare-array
    reply is one page."""

    owns = ("start", "limit")
    countable = True

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self.start = 0
        self.total: int | None = None

    def init_request(self, base: Pairs) -> Pairs:
        paging = [("start", str(self.start)), ("limit", str(self.page_size))]
        if not any(k == "total" for k, _ in base):  # the caller's total=... is kept
            paging.append(("total", "true" if self.start == 0 else "false"))
        return [*base, *paging]

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, Mapping):  # bare-array endpoints (e.g. .../profileids)
            self.has_next = False
            return list(body or [])
        data = body.get("data") or []
        count = int(body.get("count", len(data)))
        self.start = int(body.get("start", self.start)) + count
        total = body.get("total")
        if total is not None and total is not False:
            self.total = int(total)
        if count == 0:
            self.has_next = False
        elif self.total is not None:
            self.has_next = self.start < self.total
        else:
            self.has_next = count >= int(body.get("limit") or self.page_size)
        return data

    update_request = init_request

    def concurrent(
        self, hook: CopernicaHook, path: str, base: Pairs, width: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The first page gives ``total``; the other pages, at the offsets it implies, are
        fetched up to ``width`` at once and yielded in offset order."""
        first = self.update_state(self.fetch(hook, path, self.init_request(base)))
        if first:
            yield first
        if not self.has_next:
            return
        if self.total is None:  # no count (total=false): one page after the other
            yield from walk_pages(hook, path, base, self, resume=True)
            return

        def page_at(start: int) -> Callable[[], Iterator[list[dict[str, Any]]]]:
            def fetch() -> Iterator[list[dict[str, Any]]]:
                paginator = copy.copy(self)
                paginator.start = start
                records = paginator.update_state(
                    paginator.fetch(hook, path, paginator.update_request(base))
                )
                if records:
                    yield records

            return fetch

        starts = range(self.start, self.total, self.page_size)
        yield from OrderedStreams(
            [page_at(start) for start in starts],
            window=width + 2,  # pages waiting for the writer while `width` are in flight
            depth=1,
            gauge=hook.limiter,
        )


@register_paginator("keyset")
class KeysetPaginator(Paginator):
    """Pages by key (``orderby=id``, ``fields[]=id>{last}``): exact even when records are
    added or removed between pages. The first page asks for the total, and so does the page
    expected to be the last: it stops when a page holds every record that remains (no empty
    page after the last), or on a short page."""

    owns = ("start", "limit", "orderby", "order", "total")
    countable = True

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self.last: int | None = None
        self.remaining: int | None = None  # records expected after the pages read so far

    def init_request(self, base: Pairs) -> Pairs:
        after = [] if self.last is None else [("fields[]", f"id>{self.last}")]
        count = self.last is None or (
            self.remaining is not None and self.remaining <= self.page_size
        )
        keyset = [("orderby", "id"), ("order", "asc"), ("total", "true" if count else "false")]
        return [*base, *after, *keyset, ("limit", str(self.page_size))]

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        data = records_of(body)
        self.has_next = len(data) >= self.page_size
        total = body.get("total") if isinstance(body, Mapping) else None
        if total is not None and total is not False:
            self.remaining = int(total) - len(data)  # total counts this page too
            if self.remaining <= 0:
                self.has_next = False
        elif self.remaining is not None:
            self.remaining -= len(data)
        if self.has_next:
            newest = _record_id(data[-1])  # ordered by id (orderby=id, order=asc)
            if self.last is not None and newest <= self.last:
                raise CopernicaAPIError(
                    f"{self.what}: keyset paging did not advance past id {self.last}; "
                    "the endpoint may not support fields[]=id>N"
                )
            self.last = newest
        return data

    update_request = init_request

    def concurrent(
        self, hook: CopernicaHook, path: str, base: Pairs, width: int
    ) -> Iterator[list[dict[str, Any]]]:
        """The first page gives the count; the listing is then cut into id-range partitions
        of :data:`PARTITION_PAGES` pages each (:class:`KeysetPartitions`), ``width`` paging
        at once, yielded in id order."""
        first = self.update_state(self.fetch(hook, path, self.init_request(base)))
        span = PARTITION_PAGES * self.page_size
        total = len(first) + (self.remaining or 0)
        if not self.has_next or self.remaining is None or total <= span:
            if first:
                yield first
            if self.has_next:
                yield from walk_pages(hook, path, base, self, resume=True)
            return
        partitions = KeysetPartitions(self, hook, path, base, first, total)
        yield from partitions.pages(width)


PARTITION_PAGES = 2
"""Pages per keyset partition. Partitions are small so that several page at once while the
writer consumes them in order, with few pages in memory; their first page is fetched by
offset, which also fixes where the partition begins, so no call is spent on probing."""

_UNBOUNDED = math.inf


class KeysetPartitions:
    """A keyset listing of ``total`` records (the first page's count) cut into partitions.

    Partition ``k`` starts with the page at offset ``k * span`` (``orderby=id``); its first
    id ``lo_k`` is where it begins, so partition ``k`` holds the ids ``[b_k, b_{k+1})``
    with ``b_k = max(lo_0..lo_k)`` (``b_0 = 0``; monotone even if records moved between
    the requests). After its first page a partition pages by key (``id>last``) within its
    range (``id<=b_{k+1}-1``, :class:`~airflow_provider_copernica.engine.id_ranges.IdRange`),
    asking for the total on the page expected to be its last, so a partition of whole pages
    costs exactly its pages. The last partition has no upper bound.

    Each page is one atomic answer: all records of its id run at that moment; clipping every
    page to its partition's range makes the union free of duplicates, and every record that
    exists for the whole run is in exactly one partition's pages. A record created or deleted
    during the run may or may not be read (partitions are read at different moments).
    """

    def __init__(
        self,
        paginator: KeysetPaginator,
        hook: CopernicaHook,
        path: str,
        base: Pairs,
        first: list[dict[str, Any]],
        total: int,
    ) -> None:
        self.page_size = paginator.page_size
        self.what = paginator.what
        self.hook, self.path, self.base = hook, path, base
        self.first = first
        self.first_full = paginator.has_next
        self.total = total
        self.span = PARTITION_PAGES * self.page_size
        self.count = math.ceil(total / self.span)
        self.stop = threading.Event()
        self.lows = [Latch() for _ in range(self.count)]
        self.lows[0].set(0)

    def pages(self, width: int) -> Iterator[list[dict[str, Any]]]:
        streams = [self._stream(k) for k in range(self.count)]
        yield from OrderedStreams(
            streams,
            window=width + 1,  # one partition more than requests in flight: no idle slot
            depth=1,  # one page queued + one in hand: a whole partition, never more
            gauge=self.hook.limiter,
            stop=self.stop,
        )

    def bound(self, k: int) -> float:
        """``b_k``: where partition ``k`` begins (waits for the first pages up to ``k``)."""
        if k >= self.count:
            return _UNBOUNDED
        return max(latch.wait(self.stop) for latch in self.lows[: k + 1])

    def _stream(self, k: int) -> Callable[[], Iterator[list[dict[str, Any]]]]:
        return lambda: self._partition(k)

    def _first_page(self, k: int) -> tuple[list[dict[str, Any]], bool]:
        if k == 0:
            return self.first, self.first_full
        params = [
            *self.base,
            ("orderby", "id"),
            ("order", "asc"),
            ("total", "false"),
            ("start", str(k * self.span)),
            ("limit", str(self.page_size)),
        ]
        try:
            records = records_of(self.hook.get(self.path, params))
            self.lows[k].set(_record_id(records[0]) if records else _UNBOUNDED)
        except BaseException as exc:
            self.lows[k].fail(exc)
            raise
        return records, len(records) >= self.page_size

    def _partition(self, k: int) -> Iterator[list[dict[str, Any]]]:
        records, full = self._first_page(k)
        lower, upper = self.bound(k), self.bound(k + 1)
        if lower >= upper:
            return  # empty range (records moved between the first pages)
        kept = [r for r in records if lower <= _record_id(r) < upper]
        if kept:
            yield kept
        if not full:
            return  # nothing after this page when it was read
        last = max(_record_id(records[-1]), int(lower) - 1)
        if last + 1 >= upper:
            return
        base = self.base
        if upper == _UNBOUNDED:
            expected = self.total - k * self.span - len(records)
        else:
            base = [*base, *(("fields[]", c) for c in IdRange(0, int(upper) - 1).conditions())]
            expected = self.span - len(records)
        pager = KeysetPaginator(self.page_size, self.what)
        pager.last, pager.remaining = last, max(expected, 0)
        yield from walk_pages(self.hook, self.path, base, pager, resume=True)


@register_paginator("id_array")
class IdArrayPaginator(Paginator):
    """Bare JSON arrays of ids (``database/{id}/profileids``) by ``start``/``limit``: the
    endpoint takes paging parameters only (no ``fields[]=id>N``), so paging is by offset,
    made exact while ids are removed between pages.

    The ids come in ascending order. Each next page starts one id early, on the last id seen;
    if that page begins past it, ids before the offset were removed and the list shifted
    left, so the request steps back a page until it begins at or before the last id seen.
    Every id alive during the whole walk is listed once; records are ``{"id": n}``. No
    envelope, so no ``total`` to count by.
    """

    owns = ("start", "limit")

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self.start = 0
        self.last: int | None = None
        self.first: int | None = None
        self.step_backs = 0

    def init_request(self, base: Pairs) -> Pairs:
        return [*base, ("start", str(self.start)), ("limit", str(self.page_size))]

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise CopernicaAPIError(f"{self.what}: expected a JSON array of ids")
        ids = [int(i) for i in body]
        if self.start and ids and ids[0] == self.first:
            # an endpoint that ignores start/limit (view/{id}/profileids is documented
            # without parameters) answered the same list again: it was complete
            self.has_next = False
            return []
        if not self.start and ids and self.first is None:
            self.first = ids[0]
        last = self.last
        if last is not None and ids and ids[0] > last and self.start > 0:
            # The page begins after the last id seen: ids before it were removed. Step back.
            self.step_backs += 1
            self.start = max(0, self.start - self.page_size)
            self.has_next = True
            return []
        fresh = ids if last is None else [i for i in ids if i > last]
        if fresh:
            self.last = fresh[-1]
        # a longer answer than asked for is the whole list
        self.has_next = len(ids) == self.page_size
        # the next page starts on this page's last id (one id of overlap)
        self.start += max(len(ids) - 1, 1)
        return [{"id": i} for i in fresh]

    update_request = init_request


def download_logfile(hook: CopernicaHook, path: str, params: Pairs) -> IO[bytes]:
    """One logfile download (``logfile/{name}/json``) into a temporary file, rewound: a retry
    rewrites it, and a body cut off in transit is retried, so it holds one complete reply.
    The caller closes it."""
    file = tempfile.TemporaryFile(prefix="copernica-logfile-")  # noqa: SIM115 - the caller closes it
    try:
        hook.download(path, params, into=file, complete=ends_like_json_array)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


@register_paginator("logfile")
class LogfilePaginator(Paginator):
    """A logfile download (``logfile/{name}/json``): one request writes the file to a
    temporary file (:func:`download_logfile`: nothing is read before it is complete), then
    pages of ``page_size`` records are parsed from it streaming, in constant memory."""

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self._file: IO[bytes] | None = None
        self._records: Iterator[dict[str, Any]] | None = None

    def fetch(self, hook: CopernicaHook, path: str, params: Pairs) -> Any:
        if self._records is None:  # the one request; later pages come from the file
            self._file = download_logfile(hook, path, params)
            self._records = iter_json_records(self._file)
        return self._records

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        page = list(itertools.islice(body, self.page_size))
        self.has_next = len(page) == self.page_size
        if not self.has_next and self._file is not None:
            self._file.close()
        return page

    def update_request(self, base: Pairs) -> Pairs:
        return base


def _record_id(record: Mapping[str, Any]) -> int:
    value = record.get("ID", record.get("id"))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CopernicaAPIError(
            f"keyset paging needs an integer ID in every record, got {value!r}"
        ) from None


def walk_pages(
    hook: CopernicaHook,
    path: str,
    base: Pairs,
    paginator: Paginator,
    width: int = 1,
    *,
    resume: bool = False,
) -> Iterator[list[dict]]:
    """Non-empty pages of records of ``path``, as ``paginator`` walks them; with ``width`` >
    1, up to that many requests in flight when the style can (:meth:`Paginator.concurrent`).
    ``resume``: carry on from the paginator's state (its next request)."""
    base = [(k, v) for k, v in base if k not in paginator.owns]
    if width > 1 and not resume:
        pages = paginator.concurrent(hook, path, base, width)
        if pages is not None:
            yield from pages
            return
    params = paginator.update_request(base) if resume else paginator.init_request(base)
    while True:
        records = paginator.update_state(paginator.fetch(hook, path, params))
        if records:
            yield records
        if not paginator.has_next:
            return
        params = paginator.update_request(base)


def iter_pages(
    hook: CopernicaHook,
    path: str,
    params: Params = None,
    *,
    paging: str = "offset",
    concurrency: int = 1,
) -> Iterator[list[dict]]:
    """Pages of records of ``path`` through ``hook``, in a registered paging style. The
    default, offset (``start``/``limit``), pages until ``start + count >= total`` (the first
    page asks for the total); ``keyset`` pages by key (``orderby=id``, ``fields[]=id>{last}``):
    exact even when records are added or removed between pages.

    ``concurrency`` > 1 fetches offset pages at known offsets, or id-range partitions of
    a keyset listing, that many at once (never more than ``max_concurrency``), in order."""
    settings = hook.settings
    paginator = get_paginator(paging)(settings.page_size, describe("GET", settings, path))
    width = max(1, min(concurrency, settings.max_concurrency))
    yield from walk_pages(hook, path, query_pairs(params), paginator, width)


def iter_records(
    hook: CopernicaHook, path: str, params: Params = None, *, paging: str = "offset"
) -> Iterator[dict]:
    """The records of :func:`iter_pages`, one by one."""
    for page in iter_pages(hook, path, params, paging=paging):
        yield from page
