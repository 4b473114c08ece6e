"""Counting a dataset's records in a window: what the sensor's poke and the trigger ask.

:func:`probe_request` gives ONE ``limit=1`` request whose envelope ``total`` is the count,
when the entry's plan, paging style and window style allow it; otherwise the engine's pages
are counted (:func:`count_pages`). :func:`count_records` (sync hook) and
:func:`acount_records` (async hook) are the one rule both use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.datasets import Dataset, get_dataset, validate_options
from airflow_provider_copernica.exceptions import CopernicaAPIError, CopernicaConfigError
from airflow_provider_copernica.paging import get_paginator
from airflow_provider_copernica.planning import api_path, get_plan
from airflow_provider_copernica.window_params import window_filter, window_style

if TYPE_CHECKING:
    from airflow_provider_copernica.config import CopernicaSettings
    from airflow_provider_copernica.extract import Extraction
    from airflow_provider_copernica.hooks.copernica import CopernicaAsyncHook, CopernicaHook
    from airflow_provider_copernica.windows import Window


def probe_request(
    dataset: Dataset,
    options: Mapping[str, Any] | None,
    window: Window | None,
    settings: CopernicaSettings,
) -> tuple[str, list[tuple[str, str]]] | None:
    """``(path, params)`` of ONE request whose envelope ``total`` counts the dataset's records
    in ``window`` (``limit=1``), or None when there is no such request (fan-out, per-day and
    whole-day-filtered datasets): the caller then counts ``prepare(...).pages()``.
    """
    opts = validate_options(dataset, options)
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
    ``min_records`` so a satisfied check reads as little as possible."""
    count = 0
    with contextlib.closing(extraction.pages()) as pages:
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
) -> int:
    """Records of ``dataset`` in ``window``: one probe request, else pages up to
    ``min_records``. Options are validated before any call."""
    from airflow_provider_copernica.extract import prepare

    probe = probe_request(get_dataset(dataset), options, window, hook.settings)
    if probe is not None:
        return envelope_total(hook.get(*probe))
    return count_pages(prepare(hook, dataset, options=options, window=window), min_records)


async def acount_records(
    hook: CopernicaAsyncHook,
    sync_hook: Callable[[], CopernicaHook],
    dataset: str,
    options: Mapping[str, Any] | None,
    window: Window,
    min_records: int,
) -> int:
    """:func:`count_records` for the triggerer: the probe goes through the async hook; the
    pages (no count request) are read by ``sync_hook()`` in a worker thread."""
    from airflow_provider_copernica.extract import prepare

    probe = probe_request(get_dataset(dataset), options, window, await hook.get_settings())
    if probe is not None:
        return envelope_total(await hook.get(*probe))

    def by_pages() -> int:
        return count_pages(
            prepare(sync_hook(), dataset, options=options, window=window), min_records
        )

    return await asyncio.to_thread(by_pages)
