"""Schema drift: what happens when a database's (collection's) fields change between runs.

With ``fields=None`` the columns of ``profiles``/``subprofiles`` (and their snapshots) are the
database's fields, discovered each run. The operator's ``schema_policy`` decides what a
change does:

- ``evolve`` (default, as before): each file has the fields of its run.
- ``pin``: the first run's columns are stored; later runs keep exactly them. A new field is
  left out (a warning names it); a removed field stays, as null. Every file of one output
  location has one schema (Parquet included).
- ``fail``: the first run's columns are stored; a later run whose fields differ fails before
  any data request, naming the added and removed fields (and any whose type changed).

A field whose type changed fails under ``pin`` too (its values would not fit the pinned
column, and one schema per location is the point of ``pin``): the error names it.

The pinned columns live beside the output: ``<state_uri>/schema/<dataset>/<option>=<value>.json``
(``{"columns": [{"name", "type"}, ...]}``). To accept a change, delete that file (the next run
pins the new columns) or edit it.

Logfiles (``logfile_events``) drift differently: their columns are the ones Copernica
documents for the log type, so nothing is pinned or stored. Every row's keys are read
before anything is written (:func:`check_documented`): a documented column missing from
rows, or an undocumented key, is counted and named in the log; ``evolve`` keeps the key as
a column, ``pin`` leaves it out with a warning, ``fail`` stops the run before any output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaSchemaDriftError

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.engine.extract import Extraction, Log
    from airflow_provider_copernica.faithful.state import StateStore

SCHEMA_POLICIES = ("evolve", "pin", "fail")
__all__ = [
    "SCHEMA_POLICIES",
    "CopernicaSchemaDriftError",
    "apply_schema_policy",
    "check_documented",
    "check_schema_policy",
    "pin_columns",
]


def check_schema_policy(policy: object, entry: Dataset | None = None) -> str:
    """``policy`` if valid (for ``entry``: only datasets with discovered columns, or whose
    rows are checked against documented columns, drift)."""
    if policy not in SCHEMA_POLICIES:
        raise CopernicaConfigError(
            f"Unknown schema_policy {policy!r}; valid schema policies: {', '.join(SCHEMA_POLICIES)}"
        )
    if policy != "evolve" and entry is not None and not _drifts(entry):
        from airflow_provider_copernica.catalog.datasets import DATASETS

        drifting = ", ".join(sorted(d.name for d in DATASETS.values() if _drifts(d)))
        raise CopernicaConfigError(
            f"schema_policy={policy!r} has nothing to pin for {entry.name!r}: its columns are "
            f"the catalog's, not a database's fields. Datasets whose columns can drift (a "
            f"database's fields, or a logfile's rows against Copernica's documentation): "
            f"{drifting}"
        )
    return str(policy)


def _drifts(entry: Dataset) -> bool:
    return entry.discovery is not None or entry.survey_keys


def applies(policy: str, extraction: Extraction) -> bool:
    """A policy other than ``evolve`` matters only for discovered columns (``fields=None``)."""
    return (
        policy != "evolve"
        and extraction.fields is None
        and extraction.dataset.discovery is not None
    )


def schema_parts(extraction: Extraction) -> tuple[str, ...]:
    options = "_".join(f"{k}={extraction.options[k]}" for k in extraction.dataset.required_options)
    return ("schema", extraction.dataset.name, f"{options or 'default'}.json")


def pinned_columns(store: StateStore, extraction: Extraction) -> list[Column] | None:
    stored = store.read_json(*schema_parts(extraction))
    if stored is None:
        return None
    return [Column(c["name"], c["type"]) for c in stored["columns"]]


def apply_schema_policy(
    policy: str, extraction: Extraction, store: StateStore | None, log: Log
) -> list[Column] | None:
    """Fix the extraction's columns by ``policy``. Returns the columns to pin after a
    successful write when none are pinned yet (else None). Raises on ``fail`` with a change.
    Logfiles (``Dataset.survey_keys``) are checked against their documented columns
    (:func:`check_documented`), under every policy and without a store."""
    if extraction.dataset.survey_keys:
        check_documented(policy, extraction, log)
        return None
    if store is None or not applies(policy, extraction):
        return None
    current = extraction.data_columns()
    pinned = pinned_columns(store, extraction)
    where = store.uri_of(*schema_parts(extraction))
    if pinned is None:
        log.info(
            "schema_policy=%s: no pinned columns yet; this run pins %d columns in %s",
            policy,
            len(current),
            where,
        )
        return current
    now = {c.name: c.type for c in current}
    before = {c.name: c.type for c in pinned}
    added = [name for name in now if name not in before]
    removed = [name for name in before if name not in now]
    retyped = [f"{n} ({before[n]} -> {now[n]})" for n in now if n in before and now[n] != before[n]]
    if not added and not removed and not retyped:
        extraction.use_columns(pinned)
        return None
    change = f"added: {', '.join(added) or 'none'}; removed: {', '.join(removed) or 'none'}"
    if retyped:
        change += f"; type changed: {', '.join(retyped)}"
    if policy == "pin" and retyped:
        raise CopernicaSchemaDriftError(
            f"schema_policy='pin' cannot keep the columns pinned in {where} for "
            f"{extraction.dataset.name} {extraction.options}: the type of "
            f"{', '.join(retyped)} changed, so its values no longer fit the pinned column "
            f"({change}). Nothing was written. To accept the change, delete that file (the "
            "next run pins the new columns)."
        )
    if policy == "fail":
        raise CopernicaSchemaDriftError(
            f"The fields of {extraction.dataset.name} {extraction.options} changed since the "
            f"columns were pinned in {where} ({change}). Nothing was written. To accept the "
            "change, delete that file (the next run pins the new columns), or use "
            "schema_policy='pin' to keep the pinned columns."
        )
    if added:
        log.warning(
            "schema_policy=pin: new field(s) left out of the output: %s (pinned in %s)",
            ", ".join(added),
            where,
        )
    if removed:
        log.warning(
            "schema_policy=pin: removed field(s) kept as null columns: %s", ", ".join(removed)
        )
    extraction.use_columns(pinned)
    return None


def check_documented(policy: str, extraction: Extraction, log: Log) -> None:
    """Rows against the columns Copernica documents (logfiles; ``logfiles.KeySurvey`` has
    read every row's keys before anything is written): a documented column missing from
    rows, and a key it does not document, are counted and named in the log. ``evolve``
    keeps such a key as a column, ``pin`` leaves it out (a warning), ``fail`` stops here,
    before anything is written. A missing column is null in the rows that lack it."""
    survey = extraction.survey()
    if survey is None:
        return
    what = f"{extraction.dataset.name} {survey.type_name}"
    notes = survey.notes()
    if notes:
        log.info("%s: %s", what, notes)
    if survey.clean:
        log.info(
            "%s: all %d rows of %d file(s) have the documented columns",
            what,
            survey.rows,
            survey.files,
        )
        return
    differences = survey.differences()
    if policy == "fail":
        raise CopernicaSchemaDriftError(
            f"The rows of {what} differ from the columns Copernica documents ({differences})."
            " Nothing was written. schema_policy='evolve' keeps undocumented keys as columns, "
            "'pin' leaves them out; both write a missing documented column as null."
        )
    extra = set(survey.extra)
    columns = extraction.data_columns()
    if policy == "pin":
        extraction.use_columns([c for c in columns if c.name not in extra])
        log.warning(
            "schema_policy=pin: %s: %s; undocumented key(s) left out of the output, missing "
            "columns null",
            what,
            differences,
        )
        return
    log.warning(
        "schema_policy=evolve: %s: %s; undocumented key(s) kept as column(s): %s; missing "
        "columns null",
        what,
        differences,
        ", ".join(c.name for c in columns if c.name in extra) or "none (not in fields)",
    )


def pin_columns(store: StateStore, extraction: Extraction, columns: list[Column]) -> None:
    store.write_json(
        {
            "dataset": extraction.dataset.name,
            "options": dict(extraction.options),
            "columns": [{"name": c.name, "type": c.type} for c in columns],
        },
        *schema_parts(extraction),
    )
