"""Counting a dataset's records in a window: what the sensor's poke and the trigger ask.

:func:`probe_request` gives ONE ``limit=1`` request whose envelope ``total`` is the count,
when the entry's plan, paging style and window style allow it; otherwise the engine's pages
are counted (:func:`count_pages`). :func:`count_records` (sync hook) and
:func:`acount_records` (async hook) are the one rule both use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.catalog.datasets import Dataset, get_dataset, validate_options
from airflow_provider_copernica.catalog.window_styles import window_filter, window_style
from airflow_provider_copernica.engine.extract import Extraction, prepare
from airflow_provider_copernica.engine.paging import get_paginator
from airflow_provider_copernica.engine.plans import api_path, get_plan
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError

if TYPE_CHECKING:
    from airflow_provider_copernica.client.settings import CopernicaSettings
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook, CopernicaHook
    from airflow_provider_copernica.interval import Window


def probe_request(
    dataset: Dataset,
    options: Mapping[str, Any] | None,
    window: Window | None,
    settings: CopernicaSettings,
    conditions: Sequence[str] = (),
) -> tuple[str, list[tuple[str, str]]] | None:
    """``(path, params)`` of ONE request whose envelope ``total`` counts the dataset's records
    in ``window`` (``limit=1``), or None when there is no such request (fan-out, per-day and
    whole-day-filtered datasets): the caller then counts ``prepare(...).pages()``.
    ``conditions``: the user's filters, already checked (``Extraction.request_filters``).
    """
    opts = validate_options(dataset, options)
    dataset = dataset.configured(opts)
    if not (get_plan(dataset.plan).countable and get_paginator(dataset.paging).countable):
        return None
    style = dataset.window_params_for(opts.get("product"))  # type: ignore[arg-type]
    params: list[tuple[str, str]] = []
    if style is not None:
        if window is None:
            raise CopernicaConfigError(f"Dataset {dataset.name!r} needs a window (date range)")
        if not window_style(style).counts_exactly:
            return None  # filters by whole days: its total would count outside the window
        params += window_filter(style, window, settings.tz)[0]
    params += [("fields[]", condition) for condition in conditions]
    params += dataset.request_params(opts)
    params.append(("limit", "1"))
    return api_path(dataset.path, opts, settings), params


def envelope_total(payload: Any) -> int:
    """The count of a probe request: its envelope's ``total`` (often a numeric string)."""
    if isinstance(payload, Mapping):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return int(payload["total"])
    raise CopernicaAPIError("Copernica's answer to the count request has no numeric 'total'")


def count_pages(extraction: Extraction, min_records: int) -> int:
    """Count with the engine's pages (datasets without a count request); stops at
    ``min_records`` so a satisfied check reads as little as possible: pages are read one at
    a time, never ahead (no prefetch, no concurrent pages)."""
    count = 0
    with contextlib.closing(extraction.pages(max_rows=max(min_records, 1))) as pages:
        for page in pages:
            count += len(page)
            if count >= min_records:
                break
    return count


def count_records(
    hook: CopernicaHook,
    dataset: str,
    options: Mapping[str, Any] | None,
    window: Window,
    min_records: int,
    filters: Sequence[str] | None = None,
) -> int:
    """Records of ``dataset`` in ``window``: one probe request, else pages up to
    ``min_records``. Options and filters are validated before any data call."""
    extraction = prepare(hook, dataset, options=options, window=window, filters=filters)
    conditions = checked_filters(extraction)
    probe = probe_request(extraction.dataset, options, window, hook.settings, conditions)
    if probe is not None:
        return envelope_total(hook.get(*probe))
    return count_pages(extraction, min_records)


def checked_filters(extraction: Extraction) -> tuple[str, ...]:
    """The extraction's user filters, checked against the field list (one call) if any."""
    if extraction.user_filters:
        extraction.request_filters()
    return extraction.user_filters


async def acount_records(
    hook: CopernicaAsyncHook,
    sync_hook: Callable[[], CopernicaHook],
    dataset: str,
    options: Mapping[str, Any] | None,
    window: Window,
    min_records: int,
    filters: Sequence[str] | None = None,
) -> int:
    """:func:`count_records` for the triggerer: the probe goes through the async hook; the
    pages (no count request) and the filters' field check are read by ``sync_hook()`` in a
    worker thread."""

    def extraction() -> Extraction:
        return prepare(sync_hook(), dataset, options=options, window=window, filters=filters)

    conditions: tuple[str, ...] = ()
    if filters:
        conditions = await asyncio.to_thread(lambda: checked_filters(extraction()))
    entry, settings = get_dataset(dataset), await hook.get_settings()
    probe = probe_request(entry, options, window, settings, conditions)
    if probe is not None:
        return envelope_total(await hook.get(*probe))

    def by_pages() -> int:
        return count_pages(extraction(), min_records)

    return await asyncio.to_thread(by_pages)
