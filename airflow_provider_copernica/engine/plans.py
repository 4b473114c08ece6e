"""Request plans: which requests an extraction makes, registered by name.

A plan turns a catalog entry, its options and the window into raw pages: ``single`` (one
paged listing per window filter), ``fan_out`` (list items, then one request per item),
``event_fan_out`` (the items named by the window's event listings, then one request each),
``per_day`` (one request for the local days, or one per day). How each listing is paged is
the entry's paging style (:mod:`~airflow_provider_copernica.engine.paging`), not the plan's business.
A catalog entry names its plan (``Dataset.plan``); a new plan is one function plus
``@register_plan("name")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import islice
from typing import IO, TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.logfiles import (
    KeySurvey,
    check_file_name,
    iter_json_records,
    read_rows,
)
from airflow_provider_copernica.catalog.window_styles import window_filter
from airflow_provider_copernica.engine.paging import download_logfile, get_paginator, iter_pages
from airflow_provider_copernica.engine.records import to_int
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError
from airflow_provider_copernica.interval import local_bounds

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.client.settings import CopernicaSettings
    from airflow_provider_copernica.hooks.copernica import CopernicaHook
    from airflow_provider_copernica.interval import Window

Pairs = list[tuple[str, str]]
Pages = Iterator[list[dict[str, Any]]]


def api_path(
    template: str, options: Mapping[str, Any], settings: CopernicaSettings, **extra: Any
) -> str:
    """A catalog path template filled with the options (``{product}`` = its URL segment)."""
    values = dict(options)
    if "product" in values:
        values["product"] = settings.product_path(str(values["product"]))
    return template.format(**values, **extra)


@dataclass(frozen=True)
class Source:
    """What a plan reads: the hook, the catalog entry, validated options and the window's
    filter parameters (one list per request; ``[[]]``: no filter)."""

    hook: CopernicaHook
    dataset: Dataset
    options: Mapping[str, Any]
    settings: CopernicaSettings
    window: Window | None
    filters: list[Pairs]
    max_items: int | None = None
    """A preview's row limit: plans with one call per item stop an item loop there."""
    concurrency: int = 1
    """Requests in flight for a listing (``max_concurrency``; 1 for a preview)."""
    report: dict[str, Any] = field(default_factory=dict)
    """What a plan learns for the extraction before its first page (``logfiles``: the
    ``survey`` of the rows' keys, :class:`~airflow_provider_copernica.catalog.logfiles.KeySurvey`)."""

    def path(self, template: str | None = None, **extra: Any) -> str:
        return api_path(template or self.dataset.path, self.options, self.settings, **extra)

    @property
    def constant(self) -> Pairs:
        """Parameters of every data request: the entry's constants and its choice options."""
        return self.dataset.request_params(self.options)

    def pages(self, path: str, params: Pairs, paging: str | None = None) -> Pages:
        """Pages of ``path`` in ``paging`` (default: the entry's paging style); bare values
        (an id list's ids) become records ``{key: value}``.

        A counting style (offset, keyset) decides itself where to ask for ``total`` (where it
        saves a call); the plan's ``total=false`` is for the others."""
        key, style = self.dataset.key, paging or self.dataset.paging
        if get_paginator(style).countable:
            params = [(k, v) for k, v in params if k != "total"]
        pages = iter_pages(self.hook, path, params, paging=style, concurrency=self.concurrency)
        for page in pages:
            yield [r if isinstance(r, Mapping) else {key: r} for r in page]


def window_filters(
    dataset: Dataset, options: Mapping[str, Any], window: Window | None, tz: ZoneInfo
) -> list[Pairs]:
    """The entry's window filter parameters, one list per request (``[[]]``: no filter)."""
    style = dataset.window_params_for(options.get("product"))
    if style is None or window is None:
        return [[]]
    return window_filter(style, window, tz)


@dataclass(frozen=True)
class Plan:
    name: str
    pages: Callable[[Source], Pages]
    countable: bool
    """Its one request's envelope ``total`` counts the dataset (a ``limit=1`` probe works)."""


PLANS: dict[str, Plan] = {}


def register_plan(name: str, *, countable: bool = False) -> Callable[[Callable], Callable]:
    """Function decorator: make a request plan available to catalog entries as ``name``."""

    def register(pages: Callable[[Source], Pages]) -> Callable[[Source], Pages]:
        PLANS[name] = Plan(name, pages, countable)
        return pages

    return register


def get_plan(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:  # a catalog bug, not user input
        raise ValueError(f"unknown request plan {name!r}; known: {', '.join(PLANS)}") from None


@register_plan("single", countable=True)
def single(source: Source) -> Pages:
    """One paged listing of the entry's path per window filter."""
    path = source.path()
    for params in source.filters:
        yield from source.pages(path, [*params, ("total", "false"), *source.constant])


@register_plan("fan_out")
def fan_out(source: Source) -> Pages:
    """List items (``FanOut.list_path``, offset pages), then GET one object per item."""
    dataset, fan = source.dataset, source.dataset.fan_out
    assert fan is not None, f"{dataset.name}: plan 'fan_out' needs Dataset.fan_out"
    list_params: Pairs = [("total", "false"), *source.constant]
    if fan.list_window is not None and source.window is not None:
        list_params += window_filter(fan.list_window, source.window, source.settings.tz)[0]
    for items in source.pages(source.path(fan.list_path), list_params, fan.list_paging):
        ids = [(item.get(fan.item_key, item.get(fan.item_key.upper())), item) for item in items]
        yield _items(source, ids)


@register_plan("event_fan_out")
def event_fan_out(source: Source) -> Pages:
    """Find the items having events in the window in its event listings
    (``FanOut.from_events``) and GET one object per item, once each, as they are found.

    The listings cost one call per page of the window's events, and the items are only the
    ones active in the window: the calls do not grow with the items ever created. A preview
    (``max_items``) stops listing once it has its rows."""
    dataset, fan = source.dataset, source.dataset.fan_out
    index = fan.from_events if fan is not None else None
    assert fan is not None and index is not None, f"{dataset.name}: needs FanOut.from_events"
    if source.window is None:
        return
    seen: set[int] = set()
    rows = 0
    style = index.window_for(source.options.get("product"))
    for window_params in window_filter(style, source.window, source.settings.tz):
        params: Pairs = [*window_params, ("total", "false")]
        for path in index.paths:
            for records in source.pages(source.path(path), params, "offset"):
                new: set[int] = set()
                for record in records:
                    ident = next(
                        (to_int(record[f]) for f in index.item_fields if record.get(f)), None
                    )
                    if isinstance(ident, int) and ident not in seen:
                        new.add(ident)
                seen |= new
                if not new:
                    continue
                page = _items(source, [(i, {}) for i in sorted(new)])
                yield page
                rows += len(page)
                if source.max_items is not None and rows >= source.max_items:
                    return


def _items(source: Source, items: Sequence[tuple[Any, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One GET of ``FanOut.item_path`` per ``(id, listed item)``: the rows of one page."""
    dataset, fan = source.dataset, source.dataset.fan_out
    assert fan is not None
    filters = source.filters[0] if fan.item_window else []
    page: list[dict[str, Any]] = []
    for item_id, item in items:
        answer = source.hook.get(source.path(fan.item_path, id=item_id), filters)
        if not isinstance(answer, Mapping):
            continue
        if fan.require_any and not any(
            isinstance(answer.get(name), Mapping) and to_int(answer[name].get("total"))
            for name in fan.require_any
        ):
            continue
        copied = {name: item.get(name) for name in fan.item_fields}
        page.append({**answer, **copied, dataset.key: item_id})
        if source.max_items is not None and len(page) >= source.max_items:
            break
    return page


@register_plan("per_day")
def per_day(source: Source) -> Pages:
    """One request for the window's local days (the window style's start/end dates); if the
    answer is one object of totals for a multi-day span, one request per day instead (rows
    keyed by the day)."""
    path, key = source.path(), source.dataset.key
    constant = source.constant
    get = source.hook.get
    for (start_name, first), (end_name, last) in source.filters:
        answer = get(path, [(start_name, first), (end_name, last), *constant])
        if isinstance(answer, Mapping) and isinstance(answer.get("data"), list):
            yield [row for row in answer["data"] if first <= str(row.get(key, "")) <= last]
            continue
        if first == last:
            yield [{**answer, key: first}] if isinstance(answer, Mapping) else []
            continue
        day, end = date.fromisoformat(first), date.fromisoformat(last)
        while day <= end:
            text = day.isoformat()
            answer = get(path, [(start_name, text), (end_name, text), *constant])
            yield [{**answer, key: text}] if isinstance(answer, Mapping) else []
            day += timedelta(days=1)


@register_plan("logfiles")
def logfiles(source: Source) -> Pages:
    """Copernica's daily logfiles of the local days the window touches: one call for the
    dates kept (``logfiles``), one per kept day for its file names (``logfiles?date=&type=``,
    the type from the entry's ``extra_params``), and one per file, downloaded streaming to
    a temporary file (``paging.download_logfile``). With ``Dataset.survey_keys`` every file
    is read once for its rows' keys (``source.report["survey"]``) before the first page,
    then read again for the rows (``logfiles.read_rows``): the temporary files of the
    window's days are on disk until the last page. Rows are checked against the window by
    the timestamp field.

    A day that has not ended (local time) is refused before any call: its file is still
    being written, so no extraction of it could be exact; days older than the oldest date
    Copernica keeps are refused too (their files are gone)."""
    window, tz = source.window, source.settings.tz
    assert window is not None, f"{source.dataset.name}: plan 'logfiles' needs a window"
    first, after = local_bounds(window, tz)
    last = after - timedelta(seconds=1)
    today = datetime.now(tz).date()
    if last.date() >= today:
        raise CopernicaConfigError(
            f"Dataset {source.dataset.name!r}: the window {window} reaches into "
            f"{last.date().isoformat()}, a local day ({tz.key}) that has not ended, whose "
            "logfile is still being written; extract days up to yesterday (a daily run after "
            "midnight, or an interval ending by today's 00:00 local time)"
        )
    kept = {str(day) for day in source.hook.get("logfiles") or []}
    days = [first.date() + timedelta(days=n) for n in range((last.date() - first.date()).days + 1)]
    if kept and days[0].isoformat() < min(kept):
        raise CopernicaAPIError(
            f"Copernica no longer keeps logfiles of {days[0].isoformat()} (the oldest kept "
            f"day is {min(kept)}); the window {window} cannot be extracted from logfiles"
        )
    type_name = dict(source.dataset.extra_params).get("type", "")
    files: list[IO[bytes]] = []
    try:
        for day in days:
            if day.isoformat() not in kept:
                continue  # no logfile at all that day
            params: Pairs = [("date", day.isoformat()), *source.dataset.extra_params]
            for name in source.hook.get("logfiles", params) or []:
                path = source.path(name=check_file_name(name))
                files.append(download_logfile(source.hook, path, []))
        if source.dataset.survey_keys:
            # every row's keys, before the first page: the columns and the schema policy
            # are decided before anything is written
            survey = KeySurvey(type_name)
            for file in files:
                survey.scan(iter_json_records(file))
                file.seek(0)
            source.report["survey"] = survey
        size = source.settings.page_size
        for file in files:
            rows = read_rows(type_name, iter_json_records(file))
            while page := list(islice(rows, size)):
                yield page
            file.close()
    finally:
        for file in files:
            file.close()


@register_plan("nested")
def nested(source: Source) -> Pages:
    """The entry's listing (offset pages), then each record's children at
    ``Nested.children_path`` while ``has_children`` is true, depth first (selections)."""
    spec = source.dataset.nested
    assert spec is not None, f"{source.dataset.name}: plan 'nested' needs Dataset.nested"
    params: Pairs = [("total", "false"), *source.constant]
    pending, seen = [source.path()], set()
    while pending:
        path = pending.pop()
        for page in source.pages(path, params):
            yield page
            for record in page:
                ident = record.get("ID", record.get("id"))
                if record.get(spec.has_children) and ident not in seen:
                    seen.add(ident)  # a view is listed once even if the API repeats it
                    pending.append(source.path(spec.children_path, id=ident))


def enrich(source: Source, pages: Pages) -> Pages:
    """Add the entry's per-record columns (``Dataset.enrich`` switched on by the options):
    one GET per record and enrichment, on the pages that are read (a preview reads few)."""
    extras = source.dataset.enrichments(source.options.get("product"), source.options)
    if not extras:
        yield from pages
        return
    key = source.dataset.key
    for page in pages:
        if source.max_items is not None:
            page = page[: source.max_items]  # a preview: no call for a row it does not show
        for record in page:
            ident = record.get(key, record.get(key.upper()))
            for extra in extras:
                params = [("limit", "1000"), ("total", "false")]
                answer = source.hook.get(source.path(extra.path, id=ident), params)
                value = answer.get("data", answer) if isinstance(answer, Mapping) else answer
                if extra.field is not None:
                    value = value.get(extra.field) if isinstance(value, Mapping) else None
                record[extra.column.name] = value
        yield page
