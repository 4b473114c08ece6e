"""Paging styles: one small class per style, registered by name (after dlt's paginators).

A paginator owns the paging parameters of one listing request and reads each reply:

- :meth:`Paginator.init_request`: the first request's parameters;
- :meth:`Paginator.fetch`: one request (the hook's JSON ``get`` unless overridden);
- :meth:`Paginator.update_state`: the records of a reply, and whether another page follows;
- :meth:`Paginator.update_request`: the next request's parameters.

:func:`walk_pages` is the one loop over them. A catalog entry names its style
(``Dataset.paging``); a new style is one subclass plus ``@register_paginator("name")``.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, ClassVar

from airflow_provider_copernica.exceptions import CopernicaAPIError
from airflow_provider_copernica.logfiles import ends_like_json_array, iter_json_records

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


@register_paginator("single")
class SinglePage(Paginator):
    """One request, one page (the answer's records, or the answer itself as one record)."""

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        self.has_next = False
        if isinstance(body, Mapping) and not isinstance(body.get("data"), list):
            return [dict(body)]
        return records_of(body)


@register_paginator("offset")
class OffsetPaginator(Paginator):
    """``start``/``limit`` pages until ``start + count >= total`` (or a short page when the
    caller passed ``total=false``). A bare-array reply is one page."""

    owns = ("start", "limit")
    countable = True

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self.start = 0

    def init_request(self, base: Pairs) -> Pairs:
        return [*base, ("start", str(self.start)), ("limit", str(self.page_size))]

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, Mapping):  # bare-array endpoints (e.g. .../profileids)
            self.has_next = False
            return list(body or [])
        data = body.get("data") or []
        count = int(body.get("count", len(data)))
        self.start = int(body.get("start", self.start)) + count
        total = body.get("total")
        if count == 0:
            self.has_next = False
        elif total is not None and total is not False:
            self.has_next = self.start < int(total)
        else:
            self.has_next = count >= int(body.get("limit") or self.page_size)
        return data

    update_request = init_request


@register_paginator("keyset")
class KeysetPaginator(Paginator):
    """Pages by key (``orderby=id``, ``fields[]=id>{last}``): exact even when records are
    added or removed between pages. Stops on a short page."""

    owns = ("start", "limit", "orderby", "order", "total")
    countable = True

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self.last: int | None = None

    def init_request(self, base: Pairs) -> Pairs:
        after = [] if self.last is None else [("fields[]", f"id>{self.last}")]
        keyset = [("orderby", "id"), ("order", "asc"), ("total", "false")]
        return [*base, *after, *keyset, ("limit", str(self.page_size))]

    def update_state(self, body: Any) -> list[dict[str, Any]]:
        data = records_of(body)
        self.has_next = len(data) >= self.page_size
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


@register_paginator("logfile")
class LogfilePaginator(Paginator):
    """A logfile download (``logfile/{name}/json``): one request writes the file to a
    temporary file (a retry rewrites it, so nothing is read before it is complete), then
    pages of ``page_size`` records are parsed from it streaming, in constant memory."""

    def __init__(self, page_size: int, what: str) -> None:
        super().__init__(page_size, what)
        self._file: IO[bytes] | None = None
        self._records: Iterator[dict[str, Any]] | None = None

    def fetch(self, hook: CopernicaHook, path: str, params: Pairs) -> Any:
        if self._records is None:  # the one request; later pages come from the file
            self._file = tempfile.TemporaryFile(prefix="copernica-logfile-")  # noqa: SIM115 - closed after the last page
            hook.download(path, params, into=self._file, complete=ends_like_json_array)
            self._file.seek(0)
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
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CopernicaAPIError(
            f"keyset paging needs an integer ID in every record, got {value!r}"
        ) from None


def walk_pages(
    hook: CopernicaHook, path: str, base: Pairs, paginator: Paginator
) -> Iterator[list[dict]]:
    """Non-empty pages of records of ``path``, as ``paginator`` walks them."""
    base = [(k, v) for k, v in base if k not in paginator.owns]
    params = paginator.init_request(base)
    while True:
        records = paginator.update_state(paginator.fetch(hook, path, params))
        if records:
            yield records
        if not paginator.has_next:
            return
        params = paginator.update_request(base)
