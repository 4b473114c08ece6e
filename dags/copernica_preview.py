"""Preview a dataset for a date range from the UI's Trigger form ("Test Data"); writes nothing.

Trigger it with the form (the fields are validated against their JSON schema before the run
starts; the dates default to the last full day, UTC), or from the command line::

    airflow dags trigger copernica_preview --conf \\
        '{"dataset": "clicks", "date_from": "2026-11-20", "date_to": "2026-11-21", "limit": 10}'

The task log shows the first ``limit`` rows as a table in its default view (outside the
collapsed "Pre/Post Execute" groups), with the columns the dataset has, so you can check a
dataset, its columns and a window's data before scheduling a sync. A preview reads only the
pages it shows plus one count request, whatever the window.
``date_to`` is exclusive: ``2026-11-20`` to ``2026-11-21`` is the single day 20 November
(UTC). Options a dataset does not take (e.g. ``database_id`` for ``clicks``) are ignored.
Nothing is written to storage and nothing but a row count goes to XCom.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from airflow_provider_copernica.catalog.datasets import DATASETS
from airflow_provider_copernica.client.settings import PRODUCTS

log = logging.getLogger(__name__)


def last_full_day() -> tuple[str, str]:
    """``(yesterday, today)`` in UTC as ISO dates: the default window (date_to is exclusive).

    Evaluated when the file is parsed (cheap, no I/O), so the form always opens valid.
    """
    today = datetime.now(timezone.utc).date()
    return (today - timedelta(days=1)).isoformat(), today.isoformat()


DEFAULT_FROM, DEFAULT_TO = last_full_day()


def option_params() -> dict[str, Param]:
    """One form field per dataset option of the catalog (ids, product, choices), so the
    form follows the catalog: empty fields are not sent, and each dataset takes its own."""
    params: dict[str, Param] = {
        "database_id": Param(
            7616, type=["null", "integer"], minimum=1, description="For database datasets."
        ),
        "product": Param(
            None,
            type=["null", "string"],
            enum=[None, *PRODUCTS],
            description="For emailing data (empty: the dataset's default, draganddrop).",
        ),
    }
    for entry in DATASETS.values():
        for name in entry.required_options:
            if (
                name in entry.option_checks
            ):  # a text option (log_type, path), checked by the catalog
                continue
            params.setdefault(
                name,
                Param(None, type=["null", "integer"], minimum=1, description=f"For {name}."),
            )
        for name in (*entry.optional_options, *entry.option_checks):
            params.setdefault(
                name, Param(None, type=["null", "string"], description=f"For {entry.name}.")
            )
        for choice in entry.choices:
            params.setdefault(
                choice.name,
                Param(
                    None,
                    type=["null", "string"],
                    enum=[None, *choice.values],
                    description=choice.description or f"Option {choice.name}.",
                ),
            )
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
        # is flushed late and lands in the collapsed "Post Execute" group).
        total = result.total if result.total is not None else f"more than {len(result.rows)}"
        log.info(
            "%s [%s, %s): %s row(s), showing %d",
            params["dataset"],
            params["date_from"],
            params["date_to"],
            total,
            len(result.rows),
        )
        for line in result.table().splitlines():
            log.info("%s", line)
        return len(result.rows)

    preview()


copernica_preview()
