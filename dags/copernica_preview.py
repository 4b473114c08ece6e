"""Preview a dataset for a date range from the UI's Trigger form ("Test Data"); writes nothing.

Trigger it with the form (the fields are validated against their JSON schema before the run
starts; the dates default to the last full day, UTC), or from the command line::

    airflow dags trigger copernica_preview --conf \\
        '{"dataset": "clicks", "date_from": "2026-11-20", "date_to": "2026-11-21", "limit": 10}'

The task log shows the first ``limit`` rows in its default view (outside the collapsed
"Pre/Post Execute" groups), with the columns the dataset has, so you can check a dataset, its
columns and a window's data before scheduling a sync: a table when it fits 100 characters,
else one block per record; the last line says what was left out, and each profile's
``secret`` is shown as ``***`` (an extraction keeps it). A preview reads only the
pages it shows plus one count request, whatever the window.
``date_to`` is exclusive: ``2026-11-20`` to ``2026-11-21`` is the single day 20 November
(UTC). The dataset options sit in sections by the kinds of datasets that take them, each
help text naming those datasets; none is prefilled, and options a dataset does not take
(e.g. ``database_id`` for ``clicks``) are ignored.
Nothing is written to storage and nothing but a row count goes to XCom.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from airflow_provider_copernica.catalog.datasets import DATASETS, KINDS
from airflow_provider_copernica.catalog.window_styles import WINDOW_STYLES
from airflow_provider_copernica.client.settings import PRODUCTS

log = logging.getLogger(__name__)


def last_full_day() -> tuple[str, str]:
    """``(yesterday, today)`` in UTC as ISO dates: the default window (date_to is exclusive).

    Evaluated when the file is parsed (cheap, no I/O), so the form always opens valid.
    """
    today = datetime.now(timezone.utc).date()
    return (today - timedelta(days=1)).isoformat(), today.isoformat()


DEFAULT_FROM, DEFAULT_TO = last_full_day()


# What each option is; which datasets take it comes from the catalog (DATASETS).
OPTION_TEXT = {
    "database_id": "Copernica database id",
    "collection_id": "Copernica collection id",
    "view_id": "Copernica selection (view) id",
    "miniview_id": "Copernica miniview id (a selection of a collection)",
    "couponcampaign_id": "Copernica coupon campaign id",
    "product": "Emailing product (empty: draganddrop)",
    "timestamp_field": "Record field checked against the window",
    "begin_param": "API parameter that takes the window's first local second",
    "end_param": "API parameter that takes the window's last local second",
}
CHOICES_OF = {"product": PRODUCTS, "window_params": tuple(WINDOW_STYLES)}
NOT_SET = {"null": "(not set)"}  # the label of an empty dropdown (the UI shows None as "null")


def _takers() -> dict[str, tuple[list[str], list[str]]]:
    """option -> (datasets that need it, datasets that may take it), in catalog order."""
    takers: dict[str, tuple[list[str], list[str]]] = {}
    for entry in DATASETS.values():
        for name in entry.option_names:
            needs, may = takers.setdefault(name, ([], []))
            (needs if name in entry.required_options else may).append(entry.name)
    return takers


def _sections(takers: dict[str, tuple[list[str], list[str]]]) -> dict[str, str]:
    """option -> its form section: options of datasets of overlapping kinds share one,
    named after those kinds (e.g. "Options for emailings, events ... datasets")."""
    groups: list[tuple[set[str], list[str]]] = []  # (kinds, options)
    for name, (needs, may) in takers.items():
        kinds = {DATASETS[d].kind for d in needs + may}
        joined = [g for g in groups if g[0] & kinds]
        merged = (kinds.union(*(g[0] for g in joined)), [o for g in joined for o in g[1]] + [name])
        groups = [g for g in groups if g not in joined] + [merged]
    section = {}
    for kinds, options in groups:
        ordered = [k for k in KINDS if k in kinds]
        named = ", ".join(ordered[:-1]) + (" and " if len(ordered) > 1 else "") + ordered[-1]
        for option in options:
            section[option] = f"Options for {named} datasets"
    return section


def _help(name: str, needs: list[str], may: list[str]) -> str:
    text = OPTION_TEXT.get(name)
    if text is None:  # a choice's description, else the catalog check's docstring
        choice = next((c for e in DATASETS.values() for c in e.choices if c.name == name), None)
        check = next(
            (e.option_checks[name] for e in DATASETS.values() if name in e.option_checks), None
        )
        text = (choice.description if choice else None) or " ".join((check.__doc__ or name).split())
        text = text[0].upper() + text[1:]
    said = [f"Required by: {', '.join(needs)}"] if needs else []
    said += [f"Taken by: {', '.join(may)}"] if may else []
    return f"{text}. {'. '.join(said)}."


def option_params() -> dict[str, Param]:
    """One form field per dataset option of the catalog, in a section per group of datasets,
    each saying which datasets take it. Nothing is prefilled: empty fields are not sent."""
    takers = _takers()
    sections = _sections(takers)
    params: dict[str, Param] = {}
    for name, (needs, may) in takers.items():
        common: dict[str, Any] = {"description": _help(name, needs, may), "section": sections[name]}
        choice = next((c for e in DATASETS.values() for c in e.choices if c.name == name), None)
        values = CHOICES_OF.get(name) or (choice.values if choice else None)
        if values:
            params[name] = Param(
                None,
                type=["null", "string"],
                enum=[None, *values],
                values_display=NOT_SET,
                **common,
            )
        elif name.endswith("_id"):
            params[name] = Param(None, type=["null", "integer"], minimum=1, **common)
        else:
            params[name] = Param(None, type=["null", "string"], minLength=1, **common)
    return params


@dag(
    dag_id="copernica_preview",
    schedule=None,
    catchup=False,
    params={
        "dataset": Param(
            "clicks", type="string", enum=sorted(DATASETS), description="Dataset to preview."
        ),
        "date_from": Param(
            DEFAULT_FROM,
            type="string",
            format="date",
            description="First day of the window (UTC; default: the last full day).",
        ),
        "date_to": Param(
            DEFAULT_TO,
            type="string",
            format="date",
            description="Day after the last day (exclusive; default: today, UTC).",
        ),
        "limit": Param(20, type="integer", minimum=1, maximum=1000, description="Rows to show."),
        "fields": Param(
            None,
            type=["null", "array"],
            items={"type": "string"},
            description="Columns to show, one per line (empty: all columns).",
        ),
        **option_params(),
    },
    tags=["copernica", "example", "preview"],
    doc_md=__doc__,
)
def copernica_preview() -> None:
    @task
    def preview() -> int:
        """Log the preview table; return only the number of rows shown."""
        from airflow_provider_copernica.engine.preview import preview_rows
        from airflow_provider_copernica.hooks.copernica import CopernicaHook

        params: dict[str, Any] = dict(get_current_context()["params"])
        dataset = DATASETS[params["dataset"]]
        options = {
            name: params[name]
            for name in dataset.option_names
            if params.get(name) not in (None, "")
        }
        result = preview_rows(
            CopernicaHook(),
            params["dataset"],
            options=options,
            fields=params.get("fields") or None,
            date_from=params["date_from"],
            date_to=params["date_to"],
            limit=params["limit"],
        )
        # Logged from execute, one line per event: the log's default view shows them (stdout
        # is flushed late and lands in the collapsed "Post Execute" group). At most
        # preview.WIDTH characters a line (one record per block when the table is wider); the
        # last line says what was left out; each profile's secret is masked.
        log.info("%s [%s, %s):", params["dataset"], params["date_from"], params["date_to"])
        for line in result.lines(params["dataset"]):
            log.info("%s", line)
        return len(result.rows)

    preview()


copernica_preview()
