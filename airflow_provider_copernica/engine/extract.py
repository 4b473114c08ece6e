"""The one generic extraction engine: catalog entry + options + window -> pages of rows.

:func:`prepare` validates everything (dataset, options, fields, metadata, window) before any
data request. :meth:`Extraction.pages` runs the entry's request plan
(:mod:`~airflow_provider_copernica.engine.plans`, paged by :mod:`~airflow_provider_copernica.engine.paging`)
with a small prefetch (:func:`~airflow_provider_copernica.engine.streams.prefetch`: the next
page is fetched while the current one is converted and written) and yields lists of output
rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_copernica.catalog.datasets import (
    METADATA_COLUMNS,
    Dataset,
    check_fields,
    field_names,
    get_dataset,
    validate_metadata,
    validate_options,
)
from airflow_provider_copernica.catalog.endpoint import infer_columns
from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.engine.filters import (
    check_conditions,
    check_filterable,
    check_user_filters,
)
from airflow_provider_copernica.engine.plans import (
    Source,
    api_path,
    enrich,
    get_plan,
    window_filters,
)
from airflow_provider_copernica.engine.records import RowPlan
from airflow_provider_copernica.engine.streams import prefetch
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError
from airflow_provider_copernica.interval import iso_utc

__all__ = ["Extraction", "available_columns", "prepare"]

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.logfiles import KeySurvey
    from airflow_provider_copernica.client.settings import CopernicaSettings
    from airflow_provider_copernica.hooks.copernica import CopernicaHook
    from airflow_provider_copernica.interval import Window

PREFETCH_PAGES = 2
LOG_EVERY_PAGES = 10
# Copernica field types -> output column types (everything else stays a string).
_FIELD_TYPES = {
    "integer": "int",
    "float": "float",
    "datetime": "timestamp",
    "empty_datetime": "timestamp",
}


class Log(Protocol):
    """What the engine logs through: a :class:`logging.Logger`, or a task's or hook's
    ``self.log`` (Airflow's structured logger)."""

    def info(self, msg: str, /, *args: Any) -> object: ...

    def warning(self, msg: str, /, *args: Any) -> object: ...


class Extraction:
    """A validated extraction request; built by :func:`prepare`."""

    def __init__(
        self,
        hook: CopernicaHook,
        dataset: Dataset,
        options: dict[str, Any],
        fields: tuple[str, ...] | None,
        metadata: tuple[str, ...],
        window: Window | None,
        run_id: str | None,
        log: Log | None = None,
        user_filters: tuple[str, ...] = (),
    ) -> None:
        self.hook = hook
        self.user_filters = user_filters
        self.dataset = dataset
        self.options = options
        self.fields = fields
        self.metadata = metadata
        self.window = None if dataset.snapshot else window
        self.meta_window = window
        self.run_id = run_id
        self.extracted_at = datetime.now(timezone.utc).replace(microsecond=0)
        self.log = log or getattr(hook, "log", None) or logging.getLogger(__name__)
        self.settings: CopernicaSettings = hook.settings  # read the connection in this thread
        self._discovered: tuple[Column, ...] | None = None
        self._columns: list[Column] | None = None
        self._first: tuple[list[dict[str, Any]], Iterator[list[dict[str, Any]]]] | None = None
        self._discovery_lock = threading.Lock()  # the first page may be in flight meanwhile
        self._report: dict[str, Any] = {}  # what the plan learns before its first page

    # -- columns -------------------------------------------------------------------------
    @property
    def product(self) -> str | None:
        return self.options.get("product")

    def discovered_columns(self) -> tuple[Column, ...]:
        """The database's/collection's own fields as ``fields.<name>`` columns (one call)."""
        discovery = self.dataset.discovery
        if discovery is None:
            return ()
        with self._discovery_lock:
            return self._discover(discovery)

    def _discover(self, discovery: Any) -> tuple[Column, ...]:
        if self._discovered is None:
            owner: dict[str, Any] = {}
            if discovery.lookup is not None:
                found = self.hook.get(api_path(discovery.lookup, self.options, self.settings))
                value = found.get(discovery.lookup_field) if isinstance(found, Mapping) else None
                owner["owner"] = _plain_id(value, discovery.lookup)
            path = api_path(discovery.path, self.options, self.settings, **owner)
            answer = self.hook.get(path, [("limit", "1000"), ("total", "false")])
            records = answer.get("data", []) if isinstance(answer, Mapping) else answer
            columns: list[Column] = []
            for field in records or []:
                name = str(field.get("name") or "")
                if name:
                    kind = _FIELD_TYPES.get(str(field.get("type", "")).lower(), "str")
                    columns.append(Column(f"{discovery.prefix}.{name}", kind))  # type: ignore[arg-type]
            self._discovered = tuple(columns)
        return self._discovered

    def available_columns(self) -> list[Column]:
        """Every data column of the dataset (catalog columns, then discovered fields; or,
        for an entry without declared columns, those of its first page)."""
        if self.dataset.infer_columns:
            return list(
                infer_columns(self._first_page(), self.dataset.key, self.dataset.timestamp_field)
            )
        static = list(self.dataset.columns_for(self.product, self.options))
        names = {c.name for c in static}
        survey = self.survey()
        found = survey.new_columns() if survey is not None else []
        found += [c for c in self.discovered_columns() if c.name not in names]
        return static + [c for c in found if c.name not in names]

    def survey(self) -> KeySurvey | None:
        """For an entry whose plan reads every row's keys first (``Dataset.survey_keys``:
        logfiles), that survey: it downloads and reads the window's files (the first page
        is then kept for :meth:`pages`). None for other entries, or without a window."""
        if not self.dataset.survey_keys or self.window is None:
            return None
        if "survey" not in self._report:
            self._first_page()
        return self._report.get("survey")

    @property
    def columns(self) -> list[Column]:
        """The output columns, in order: key first, selected data columns, metadata last."""
        if self._columns is None:
            self._columns = self._resolve_columns()
        return self._columns

    def data_columns(self) -> list[Column]:
        """The output columns without the metadata columns."""
        return [c for c in self.columns if c.name not in self.metadata]

    def use_columns(self, data: list[Column]) -> None:
        """Output exactly these data columns (a pinned schema); absent fields become null."""
        self._columns = list(data) + [METADATA_COLUMNS[name] for name in self.metadata]

    def _resolve_columns(self) -> list[Column]:
        static = {c.name: c for c in self.dataset.columns_for(self.product, self.options)}
        wanted = self.fields
        if wanted is not None and all(name in static for name in wanted):
            by_name = static  # no discovery call needed
        else:
            by_name = {c.name: c for c in self.available_columns()}
        if wanted is None:
            data = list(by_name.values())
        else:
            check_fields(self.dataset, wanted, by_name)
            key = self.dataset.key
            data = ([by_name[key]] if key not in wanted else []) + [by_name[n] for n in wanted]
        return data + [METADATA_COLUMNS[name] for name in self.metadata]

    def _plan(self) -> RowPlan:
        discovery = self.dataset.discovery
        paths: dict[str, tuple[str, ...]] = {}
        if discovery is not None:
            prefix = discovery.prefix + "."
            paths = {
                c.name: (discovery.prefix, c.name[len(prefix) :])
                for c in self.columns
                if c.name.startswith(prefix)
            }
        if self.dataset.survey_keys:  # flat rows: a key is read whole, dots included
            paths = {c.name: (c.name,) for c in self.columns}
        window = self.window
        return RowPlan(
            self.columns,
            tz=self.settings.tz,
            paths=paths,
            window=(window.start, window.end) if window is not None else None,
            timestamp_field=self.dataset.timestamp_field,
            constants=self.metadata_values(),
        )

    def metadata_values(self) -> dict[str, Any]:
        """The requested metadata columns' values (the same in every row)."""
        window = self.meta_window
        constants = {
            "_extracted_at": iso_utc(self.extracted_at),
            "_interval_start": iso_utc(window.start) if window else None,
            "_interval_end": iso_utc(window.end) if window else None,
            "_dataset": self.dataset.name,
            "_run_id": self.run_id,
        }
        return {k: v for k, v in constants.items() if k in self.metadata}

    # -- requests ------------------------------------------------------------------------
    @property
    def api_calls(self) -> int:
        return int(getattr(self.hook, "api_calls", 0))

    def _first_page(self) -> list[dict[str, Any]]:
        """The first raw page, read once and kept for :meth:`pages` (column inference)."""
        if self._first is None:
            raws = self._raw_pages()
            self._first = (next(raws, []), raws)
        return self._first[0]

    def _source_pages(self, max_items: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Raw pages, starting with the page already read for the columns, if any."""
        if self._first is None:
            yield from self._raw_pages(max_items)
            return
        first, rest = self._first
        self._first = None
        if first:
            yield first
        yield from rest

    def _raw_pages(self, max_items: int | None = None) -> Iterator[list[dict[str, Any]]]:
        """Raw records page by page, as the catalog entry's request plan says.

        ``max_items`` stops a fan-out page early (one call per item: a preview of 20 rows must
        not fetch a whole list page's items)."""
        source = Source(
            self.hook,
            self.dataset,
            self.options,
            self.settings,
            self.window,
            self.request_filters(),
            max_items,
            1 if max_items is not None else self.settings.max_concurrency,
            report=self._report,
        )
        return enrich(source, get_plan(self.dataset.plan).pages(source))

    def request_filters(self) -> list[list[tuple[str, str]]]:
        """The window's filter parameters and the user's ``filters``, refused before any data request when Copernica
        would ignore one of their conditions (:func:`filters.check_conditions`)."""
        filters = window_filters(self.dataset, self.options, self.window, self.settings.tz)
        style = self.dataset.window_params_for(self.product)
        kind = style if isinstance(style, str) else ""
        if self.user_filters:  # ANDed with the window: appended to each request's filter
            types = self._own_fields()
            check_user_filters(self.dataset.name, self.user_filters, kind, types)
            filters = [[*pairs, *(("fields[]", c) for c in self.user_filters)] for pairs in filters]
        check_conditions(self.dataset.name, kind, filters, self._own_field_names)
        return filters

    def _own_fields(self) -> dict[str, str]:
        """The database's/collection's own fields and their column types (``fields.city``
        -> ``city``)."""
        discovery = self.dataset.discovery
        skip = len(discovery.prefix) + 1 if discovery is not None else 0
        return {c.name[skip:]: c.type for c in self.discovered_columns()}

    def _own_field_names(self) -> list[str]:
        return list(self._own_fields())

    def pages(self, max_rows: int | None = None) -> Generator[list[dict[str, Any]], None, None]:
        """Output rows page by page (streams; empty pages are skipped).

        With ``max_rows`` (a preview) pages are fetched one at a time, only while fewer rows
        have been yielded: no prefetch, so no page is billed that is not shown.
        """
        started = time.monotonic()
        raws: Iterator[list[dict[str, Any]]]
        if max_rows is not None:
            plan = self._plan()
            raws = self._source_pages(max_rows)
        elif (
            self.dataset.infer_columns
            or self.dataset.survey_keys
            or self.settings.max_concurrency == 1
        ):
            # Columns first: they may be those of the first page (or of every row's keys:
            # survey_keys reads them before the first page); and with one request in
            # flight the field-list call could not overlap the first page anyway.
            plan = self._plan()
            raws = prefetch(self._source_pages, self._prefetch_depth)
        else:
            # The first page is in flight while the columns are resolved (the field-list
            # call), and both wait for the same JWT exchange.
            ahead = prefetch(self._source_pages, self._prefetch_depth)
            try:
                plan = self._plan()
            except BaseException:
                ahead.close()
                raise
            raws = ahead
        try:
            yield from self._rows(plan, raws, max_rows, started)
        finally:
            close = getattr(raws, "close", None)
            if close is not None:
                close()

    @property
    def _prefetch_depth(self) -> int:
        """Pages queued for the writer: concurrent listings queue their own pages already."""
        return PREFETCH_PAGES if self.settings.max_concurrency == 1 else 1

    def _rows(
        self,
        plan: RowPlan,
        raws: Iterator[list[dict[str, Any]]],
        max_rows: int | None,
        started: float,
    ) -> Iterator[list[dict[str, Any]]]:
        pages = records = 0
        for raw in raws:
            pages += 1
            rows = plan.rows(raw)
            records += len(rows)
            if pages % LOG_EVERY_PAGES == 0:
                elapsed = max(time.monotonic() - started, 1e-6)
                self.log.info(
                    "%s: %d pages, %d records so far (%.0f records/s)",
                    self.dataset.name,
                    pages,
                    records,
                    records / elapsed,
                )
            if rows:
                yield rows
            if max_rows is not None and records >= max_rows:
                break
        elapsed = max(time.monotonic() - started, 1e-6)
        limiter = getattr(self.hook, "limiter", None)
        self.log.info(
            "%s: done, %d pages, %d records in %.1f s (%.0f records/s), %d API calls%s",
            self.dataset.name,
            pages,
            records,
            elapsed,
            records / elapsed,
            self.api_calls,
            f"; {limiter.summary()}" if limiter is not None else "",
        )


def _plain_id(value: Any, what: str) -> int:
    """An id read from an answer, checked before it goes into a URL path."""
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if not text.isascii() or not text.isdigit():
        raise CopernicaAPIError(f"GET {what}: expected a numeric owner id, got {value!r}")
    return int(text)


def available_columns(
    hook: CopernicaHook, dataset: str, options: Mapping[str, Any] | None = None
) -> list[Column]:
    """Every data column of ``dataset`` (one discovery call for profiles/subprofiles)."""
    entry = get_dataset(dataset)
    opts = validate_options(entry, options)
    extraction = Extraction(hook, entry.configured(opts), opts, None, (), None, None)
    return extraction.available_columns()


def prepare(
    hook: CopernicaHook,
    dataset: str,
    *,
    options: Mapping[str, Any] | None = None,
    fields: Sequence[str] | None = None,
    metadata: Sequence[str] = (),
    window: Window | None = None,
    run_id: str | None = None,
    log: Log | None = None,
    filters: Sequence[str] | None = None,
) -> Extraction:
    """Validate a request against the catalog and return an :class:`Extraction`.

    Nothing is sent unless ``fields`` names a column that only the database's/collection's
    field list can confirm (one discovery call); data requests start in ``pages()``.
    """
    base = get_dataset(dataset)
    opts = validate_options(base, options)
    entry = base.configured(opts)
    names = field_names(fields)
    meta = validate_metadata(metadata)
    conditions = check_filterable(entry, filters)
    if window is not None and not (hasattr(window, "start") and hasattr(window, "end")):
        raise CopernicaConfigError(f"window must be a windows.Window, got {window!r}")
    if window is None and not entry.snapshot:
        raise CopernicaConfigError(
            f"Dataset {dataset!r} is filtered by interval ({entry.interval_filter}): "
            "give a window (the run's data interval, or date_from/date_to)"
        )
    extraction = Extraction(hook, entry, opts, names, meta, window, run_id, log, conditions)
    if names is not None:
        extraction.columns  # noqa: B018 - validates the field names now
    return extraction
