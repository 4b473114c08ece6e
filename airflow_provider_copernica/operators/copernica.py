"""The two operators, thin by design; they share the dataset arguments and the task-context
code (:class:`_DatasetOperator`):

- ``CopernicaToStorageOperator``: one dataset, one data interval, one file: window -> engine
  (``extract.prepare``) -> writer (``writers.open_writer``) -> small XCom dict;
- ``CopernicaToSqlOperator``: the same extraction into a database table through the
  connection's Airflow SQL hook, by write mode (``output/sql``; docs/databases.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator

from airflow_provider_copernica.catalog.datasets import (
    check_fields,
    field_names,
    get_dataset,
    validate_metadata,
    validate_options,
)
from airflow_provider_copernica.client.settings import DEFAULT_CONN_ID
from airflow_provider_copernica.engine.filters import (
    check_filterable,
    id_range_conditions,
    user_conditions,
)
from airflow_provider_copernica.engine.id_ranges import IdRange
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaEmptyResultError
from airflow_provider_copernica.faithful.drift import check_schema_policy
from airflow_provider_copernica.faithful.restatement import check_restate_intervals
from airflow_provider_copernica.output import lineage
from airflow_provider_copernica.output.assets import default_output_dir, output_asset
from airflow_provider_copernica.output.writers import FORMATS, check_file_format
from airflow_provider_copernica.task_context import dag_id, run_id, task_window

if TYPE_CHECKING:
    from airflow.sdk import Asset, Context

    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.engine.extract import Extraction
    from airflow_provider_copernica.interval import Window


def _templated(value: Any) -> bool:
    return "{{" in repr(value) or "{%" in repr(value)


def check_dataset_arguments(
    entry: Dataset,
    dataset_options: Mapping[str, Any] | None,
    fields: Sequence[str] | None,
    filters: Sequence[str] | None,
    id_range: Mapping[str, Any] | None = None,
) -> None:
    """The dataset arguments both operators take, checked when the DAG is parsed (all that
    needs no template; field names of discovered columns are checked at run time)."""
    if not _templated(filters):
        check_filterable(entry, filters)  # syntax now; field names at run time
    if not _templated(id_range):
        id_range_conditions(entry, id_range)
    if not _templated(dataset_options):
        static_options = validate_options(entry, dataset_options)
        shaped = entry.configured(static_options)
        checkable = shaped.discovery is None and not shaped.infer_columns
        if fields is not None and not _templated(fields) and checkable:
            check_fields(
                shaped,
                field_names(fields) or (),
                (
                    c.name
                    for c in shaped.columns_for(
                        cast("str | None", static_options.get("product")), static_options
                    )
                ),
            )


def _template_fields(target: str) -> tuple[str, ...]:
    """An operator's templated arguments: the dataset's, its ``target``'s and the state's."""
    return ("dataset_options", "fields", "filters", target, "state_uri", "id_range")


# What both operators keep as they got it (after the checks), in this order.
_DATASET_ARGUMENTS = ("dataset", "dataset_options", "fields", "filters", "id_range", "state_uri")


def _check_state_uri(state_uri: Any) -> None:
    if state_uri is not None and not isinstance(state_uri, str):
        raise CopernicaConfigError(f"state_uri must be a string, got {state_uri!r}")


class _DatasetOperator(BaseOperator):
    """What both operators share at run time: the window, the request's conditions and the
    prepared extraction (the dataset arguments kept by :meth:`_keep_dataset_arguments`; the
    subclass sets ``metadata``)."""

    dataset: str
    dataset_options: Mapping[str, Any] | None
    fields: Sequence[str] | None
    filters: Sequence[str] | None
    metadata: Sequence[str]
    id_range: Mapping[str, Any] | None
    state_uri: str | None
    template_fields_renderers = {"dataset_options": "json", "fields": "json", "filters": "json"}

    def _keep_dataset_arguments(self, *values: Any) -> None:
        """Keep the arguments both operators take (checked by :func:`check_dataset_arguments`),
        given in the order of ``_DATASET_ARGUMENTS``."""
        for name, value in zip(_DATASET_ARGUMENTS, values, strict=True):
            setattr(self, name, value)

    def _window(self, context: Context) -> Window | None:
        """The run's window; None for a snapshot (the entry as the run's options shape it)."""
        entry = get_dataset(self.dataset)
        return task_window(
            context, entry.configured(validate_options(entry, self.dataset_options)).snapshot
        )

    def _conditions(self) -> list[str] | None:
        """The user's ``filters`` and the ``id_range``'s conditions: one ANDed list."""
        entry = get_dataset(self.dataset)
        found = [*user_conditions(self.dataset, self.filters)]
        found += id_range_conditions(entry, self.id_range)
        return found or None

    def _prepare(self, context: Context, hook: Any, window: Window | None) -> Extraction:
        """The validated extraction of the run (no data request yet)."""
        from airflow_provider_copernica.engine.extract import prepare

        return prepare(
            hook,
            self.dataset,
            options=self.dataset_options,
            fields=self.fields,
            filters=self._conditions(),
            metadata=self.metadata,
            window=window,
            run_id=run_id(context),
            log=self.log,
        )


class CopernicaToStorageOperator(_DatasetOperator):
    """Extract one Copernica dataset for the run's data interval into one file.

    The window is the run's data interval (or the ``date_from``/``date_to`` params of a
    manual run); the file is written atomically (a temporary beside it, then renamed over it)
    and a re-run of the interval replaces it. Every run emits an event on
    :attr:`output_asset` (declared as an outlet when the DAG is parsed; see
    :mod:`airflow_provider_copernica.output.assets`) whose extra is ``{uri, rows, dataset,
    interval_start, interval_end}``. See docs/operator.md.

    :param dataset: the catalog name of the dataset (``copernica datasets`` lists them);
        checked when the DAG is parsed.
    :param dataset_options: what the dataset needs or takes, e.g. ``{"database_id": 7616}``
        or ``{"product": "html"}``; checked before any API call. (templated)
    :param fields: the columns to write, in that order (``id`` is always kept, first);
        ``None`` writes every column. (templated)
    :param filters: Copernica conditions such as ``"country==Netherlands"`` for profiles and
        subprofiles, ANDed with the interval and checked before they are sent. (templated)
    :param metadata: metadata columns to add: ``_extracted_at``, ``_interval_start``,
        ``_interval_end``, ``_dataset``, ``_run_id``.
    :param output_uri: where the file goes: a path, ``file://``, ``s3://``, ``gs://`` or any
        attached fsspec filesystem; default
        ``$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>/<start>_<end>.<ext>``. (templated)
    :param file_format: ``jsonl`` (default), ``csv`` or ``parquet`` (needs pyarrow on the
        worker, checked when the task runs).
    :param allow_empty: write an empty file for an interval without records instead of
        failing with ``CopernicaEmptyResultError``.
    :param copernica_conn_id: the Copernica connection (default ``copernica_default``).
    :param output_conn_id: the Airflow connection of the object store ``output_uri`` names.
    :param restate_intervals: extract the ``N`` data intervals before the run's one again,
        each into its own file (``output_uri`` rendered as a run of that interval would
        render it); the XCom and the event's extra then add ``restated``.
    :param schema_policy: what a change of a database's fields does between runs:
        ``evolve`` (default), ``pin`` or ``fail``.
    :param state_uri: where the id snapshots of the deletions datasets and the pinned
        columns live; default ``_copernica_state/`` beside the output file. (templated)
    :param id_range: ``{"after": N, "upto": M}`` extracts only the records with
        ``N < id <= M`` (``upto=None``: no upper bound), keyset-paged datasets only: one
        part of a partitioned extraction; the XCom then adds ``id_range``. (templated)
    :return: (XCom) ``{uri, rows, dataset, interval_start, interval_end, api_calls}``; the
        data itself never goes into XCom.
    """

    template_fields: Sequence[str] = _template_fields("output_uri")
    ui_color = "#e8f4fc"

    def __init__(
        self,
        *,
        dataset: str,
        dataset_options: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        filters: Sequence[str] | None = None,
        metadata: Sequence[str] = (),
        output_uri: str | None = None,
        file_format: str = "jsonl",
        allow_empty: bool = False,
        copernica_conn_id: str = DEFAULT_CONN_ID,
        output_conn_id: str | None = None,
        restate_intervals: int = 0,
        schema_policy: str = "evolve",
        state_uri: str | None = None,
        id_range: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        # Everything that needs no template is checked now, so a typo fails at DAG parse; what
        # the worker must have installed (pyarrow, s3fs, ...) is checked when the task runs.
        entry = get_dataset(dataset)
        check_file_format(file_format)
        self.restate_intervals = check_restate_intervals(restate_intervals)
        if restate_intervals and entry.deletions_of is not None:
            raise CopernicaConfigError(
                f"restate_intervals cannot be used with {dataset!r}: a deletion can only be "
                "observed forward in time (each run compares the live ids with the previous "
                "run's id snapshot), so an earlier interval cannot be extracted again; leave "
                "restate_intervals at 0"
            )
        if restate_intervals and entry.snapshot:
            raise CopernicaConfigError(
                f"restate_intervals needs a dataset filtered by interval; {dataset!r} is a "
                "snapshot (each run already lands its whole current state)"
            )
        if restate_intervals and output_uri and not _templated(output_uri):
            raise CopernicaConfigError(
                f"restate_intervals={restate_intervals} writes one file per interval, but "
                f"output_uri {output_uri!r} is the same for every interval: template it over "
                "the interval (e.g. '.../{{ ds }}.jsonl') or leave it out (the default path "
                "names the interval)"
            )
        # kept unrendered: each restated interval renders it with its own dates
        self.output_uri_template = output_uri
        self.schema_policy = check_schema_policy(schema_policy, entry)
        _check_state_uri(state_uri)
        self.metadata = validate_metadata(metadata)
        check_dataset_arguments(entry, dataset_options, fields, filters, id_range)
        if output_uri is not None and not isinstance(output_uri, str):
            raise CopernicaConfigError(f"output_uri must be a string, got {output_uri!r}")
        super().__init__(**kwargs)
        # Named now, without rendering templates, so Airflow registers it with the DAG.
        self.output_asset: Asset | None = output_asset(
            dataset,
            output_uri,
            dag_id=self.dag_id if self.has_dag() else None,
            task_id=self.task_id,
            conn_id=output_conn_id,
        )
        if self.output_asset is not None and self.output_asset not in self.outlets:
            self.outlets = [*self.outlets, self.output_asset]
        self._keep_dataset_arguments(dataset, dataset_options, fields, filters, id_range, state_uri)
        self.output_uri = output_uri
        self.file_format = file_format
        self.allow_empty = allow_empty
        self.copernica_conn_id = copernica_conn_id
        self.output_conn_id = output_conn_id

    def default_output_uri(self, context: Context, window: Window | None, at: datetime) -> str:
        """``$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>/<start>_<end>.<ext>``."""
        from airflow_provider_copernica.interval import compact_utc

        label = window.label if window is not None else f"snapshot_{compact_utc(at)}"
        directory = default_output_dir(dag_id(context, self.dag_id), self.dataset)
        return (directory / f"{label}{FORMATS[self.file_format].extension}").as_uri()

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_copernica.hooks.copernica import CopernicaHook
        from airflow_provider_copernica.output.writers import (
            check_output_uri,
            require_file_format,
        )

        require_file_format(self.file_format)  # the worker's install (pyarrow for parquet)
        id_range_conditions(get_dataset(self.dataset), self.id_range)  # rendered: check again
        uri = self.output_uri
        if uri:  # an unwritable target (or a '..' segment) fails before any API call
            check_output_uri(uri, self.output_conn_id, file_format=self.file_format)
        window = self._window(context)
        restated = self._restated_targets(context, window, uri)
        hook = CopernicaHook(self.copernica_conn_id)
        landed = self._extract(context, hook, window, uri)
        self._landed = self._last_landed  # lineage: the run's own interval
        if restated:
            landed["restated"] = [
                {
                    key: value
                    for key, value in self._extract(context, hook, other, other_uri).items()
                    if key in ("uri", "rows", "interval_start", "interval_end")
                }
                for other, other_uri in restated
            ]
        self._emit_asset_event(context, landed)
        return {**landed, "api_calls": hook.api_calls}

    def _restated_targets(
        self, context: Context, window: Window | None, uri: str | None
    ) -> list[tuple[Window, str | None]]:
        """The intervals before the run's one and their rendered ``output_uri`` (None: the
        default path), all checked before any API call."""
        from airflow_provider_copernica.faithful.restatement import (
            interval_context,
            previous_windows,
        )
        from airflow_provider_copernica.output.writers import check_output_uri

        if not self.restate_intervals or window is None:
            return []
        timetable = getattr(context.get("dag"), "timetable", None)
        targets: list[tuple[Window, str | None]] = []
        for other in previous_windows(window, self.restate_intervals, timetable):
            other_uri = None
            if self.output_uri_template:
                other_context = cast("Context", interval_context(context, window, other))
                rendered = self.render_template(self.output_uri_template, other_context)
                other_uri = str(rendered)
                check_output_uri(other_uri, self.output_conn_id, file_format=self.file_format)
            targets.append((other, other_uri))
        uris = [uri, *(u for _, u in targets)]
        if uri and len(set(uris)) < len(uris):
            raise CopernicaConfigError(
                f"restate_intervals={self.restate_intervals}: output_uri renders the same path "
                f"for different intervals ({', '.join(map(str, uris))}); template it over the "
                "interval, e.g. '.../{{ data_interval_start | ds }}.jsonl'"
            )
        return targets

    def _extract(
        self, context: Context, hook: Any, window: Window | None, uri: str | None
    ) -> dict[str, Any]:
        """One interval into one file (atomically): ``{uri, rows, dataset, interval_start,
        interval_end}``."""
        from airflow_provider_copernica.faithful.deletions import deletion_pages
        from airflow_provider_copernica.faithful.drift import apply_schema_policy, pin_columns
        from airflow_provider_copernica.faithful.state import StateStore, default_state_uri
        from airflow_provider_copernica.output.writers import check_output_uri, open_writer

        extraction = self._prepare(context, hook, window)
        if not uri:
            uri = self.default_output_uri(context, window, extraction.extracted_at)
            check_output_uri(uri, self.output_conn_id, file_format=self.file_format)
        self.log.info(
            "Extracting %s %s for %s into %s",
            self.dataset,
            extraction.options or "",
            window or "a snapshot",
            uri,
        )
        entry = extraction.dataset
        store = None
        if entry.deletions_of is not None or self.schema_policy != "evolve":
            store = StateStore(self.state_uri or default_state_uri(uri), self.output_conn_id)
        to_pin = apply_schema_policy(self.schema_policy, extraction, store, self.log)
        pages = (
            deletion_pages(extraction, store, self.log) if entry.deletions_of and store else None
        )
        with open_writer(
            uri, self.file_format, extraction.columns, conn_id=self.output_conn_id
        ) as writer:
            for rows in pages if pages is not None else extraction.pages():
                writer.write(rows)
            # no deletions is an answer, not a missing extraction
            empty_ok = self.allow_empty or entry.deletions_of is not None
            if writer.rows_written == 0 and not empty_ok:
                raise CopernicaEmptyResultError(
                    f"No {self.dataset} records in {window or 'the snapshot'}; nothing was "
                    f"written to {uri}. Set allow_empty=True to write an empty file instead."
                )
            final_uri = writer.commit()
        if to_pin is not None and store is not None:
            pin_columns(store, extraction, to_pin)
        self._last_landed = lineage.landed(
            extraction.settings,
            extraction.dataset,
            extraction.options,
            final_uri,
            extraction.columns,
            writer.rows_written,
        )
        return {
            "uri": final_uri,
            "rows": writer.rows_written,
            "dataset": self.dataset,
            "interval_start": window.start.isoformat() if window else None,
            "interval_end": window.end.isoformat() if window else None,
        } | ({"id_range": IdRange.from_value(self.id_range).as_dict()} if self.id_range else {})

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (``apache-airflow-providers-openlineage``): the Copernica endpoint in,
        the written file out, with its schema and row count (see :mod:`..lineage`)."""
        return lineage.operator_lineage(getattr(self, "_landed", None))

    def _emit_asset_event(self, context: Context, extra: dict[str, Any]) -> None:
        """Attach ``extra`` to the event Airflow records on :attr:`output_asset` at success."""
        events = context.get("outlet_events")
        if self.output_asset is None or events is None:  # e.g. execute() called directly
            return
        events[self.output_asset].extra = extra
        self.log.info(
            "Asset event on %s: %s rows in %s", self.output_asset.uri, extra["rows"], extra["uri"]
        )


class CopernicaToSqlOperator(_DatasetOperator):
    """Load one Copernica dataset for the run's data interval into a database table.

    The extraction is the same engine as :class:`CopernicaToStorageOperator`'s. The rows go
    through the connection's own Airflow hook (any common.sql ``DbApiHook``: PostgreSQL,
    DuckDB, SQLite, ...) into a staging table and then into ``table`` by ``write_mode``, in
    one transaction. The table is the Asset, named with the provider's URI scheme (e.g.
    ``postgres://host:5432/db/public/copernica_clicks``); each run adds its event through
    the asset alias :attr:`table_alias` declared when the DAG is parsed. See
    docs/databases.md.

    :param dataset: the catalog name of the dataset (``copernica datasets`` lists them);
        checked when the DAG is parsed.
    :param sql_conn_id: an Airflow connection whose hook is a common.sql ``DbApiHook``;
        any other hook is refused, naming its type, before any API call.
    :param table: ``name`` or ``schema.name``, each a plain or double-quoted identifier;
        default ``copernica_<dataset>`` (a ``*_deletions`` dataset: the records' table,
        ``copernica_profiles`` / ``copernica_subprofiles``). (templated)
    :param write_mode: ``replace_interval``, ``upsert``, ``truncate_insert``, ``insert``,
        ``insert_ignore``, ``delete``, ``soft_delete`` or ``history``; default by dataset
        (windowed: replace_interval, profiles/subprofiles: upsert, snapshots:
        truncate_insert, deletions: soft_delete). A mode that does not fit the dataset is
        refused when the DAG is parsed.
    :param dataset_options: what the dataset needs or takes, e.g. ``{"database_id": 7616}``.
        (templated)
    :param fields: the columns to load (``id`` is always kept); ``None`` loads every column.
        (templated)
    :param filters: Copernica conditions ANDed with the interval. (templated)
    :param metadata: metadata columns to add: ``_extracted_at``, ``_interval_start``,
        ``_interval_end``, ``_dataset``, ``_run_id``.
    :param allow_empty: load an interval without records instead of failing with
        ``CopernicaEmptyResultError`` (the table is then left as it was).
    :param copernica_conn_id: the Copernica connection (default ``copernica_default``).
    :param schema_policy: for a table that lacks some of the data's columns: ``evolve``
        (default, ``ALTER TABLE ... ADD COLUMN``), ``pin`` (keep the table's columns) or
        ``fail`` (refused before any data request).
    :param state_uri: where a ``*_deletions`` dataset keeps its id snapshots; default
        ``$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>/_copernica_state`` (give shared
        storage, e.g. ``s3://...``, when workers do not share a disk). (templated)
    :param id_range: ``{"after": N, "upto": M}``: only the records with ``N < id <= M``, one
        partition of a partitioned load (keyset-paged datasets); ``truncate_insert`` and a
        snapshot's ``history`` then replace (close) only that range's rows. (templated)
    :return: (XCom) ``{table, uri, rows, rejected, write_mode, counts, dataset,
        interval_start, interval_end, api_calls}``; the data itself never goes into XCom.
    """

    template_fields: Sequence[str] = _template_fields("table")
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        dataset: str,
        sql_conn_id: str,
        table: str | None = None,
        write_mode: str | None = None,
        dataset_options: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        filters: Sequence[str] | None = None,
        metadata: Sequence[str] = (),
        allow_empty: bool = False,
        copernica_conn_id: str = DEFAULT_CONN_ID,
        schema_policy: str = "evolve",
        state_uri: str | None = None,
        id_range: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        from airflow.sdk import AssetAlias

        from airflow_provider_copernica.output.sql.modes import check_write_mode
        from airflow_provider_copernica.output.sql.tables import TableName

        entry = get_dataset(dataset)
        mode = check_write_mode(write_mode, entry)
        if not isinstance(sql_conn_id, str) or not sql_conn_id.strip():
            raise CopernicaConfigError(
                f"sql_conn_id must name an Airflow connection, got {sql_conn_id!r}"
            )
        table = table if table is not None else default_table(entry)
        if not _templated(table):
            TableName.parse(table)
        self.schema_policy = check_schema_policy(schema_policy)
        _check_state_uri(state_uri)
        chosen = validate_metadata(metadata)
        self.metadata = (*chosen, *(m for m in mode.extra_metadata(entry) if m not in chosen))
        check_dataset_arguments(entry, dataset_options, fields, filters, id_range)
        super().__init__(**kwargs)
        self.table_alias = AssetAlias(name=f"copernica_sql/{sql_conn_id}/{table}")
        if self.table_alias not in self.outlets:
            self.outlets = [*self.outlets, self.table_alias]
        self._keep_dataset_arguments(dataset, dataset_options, fields, filters, id_range, state_uri)
        self.sql_conn_id = sql_conn_id
        self.table = table
        self.write_mode = mode.name
        self.allow_empty = allow_empty
        self.copernica_conn_id = copernica_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_copernica.faithful.deletions import deletion_pages
        from airflow_provider_copernica.faithful.state import STATE_DIRECTORY, StateStore
        from airflow_provider_copernica.hooks.copernica import CopernicaHook
        from airflow_provider_copernica.output.sql.dialects import dialect_for, sql_hook
        from airflow_provider_copernica.output.sql.load import TableLoad
        from airflow_provider_copernica.output.sql.modes import MODES
        from airflow_provider_copernica.output.sql.tables import TableName

        table = TableName.parse(self.table)  # rendered: check again
        id_range_conditions(get_dataset(self.dataset), self.id_range)
        dialect = dialect_for(sql_hook(self.sql_conn_id))  # a wrong connection: no request
        window = self._window(context)
        hook = CopernicaHook(self.copernica_conn_id)
        extraction = self._prepare(context, hook, window)
        entry = extraction.dataset
        load = TableLoad(
            dialect,
            table,
            MODES[self.write_mode],
            entry,
            extraction.columns,
            window=window,
            extracted_at=extraction.extracted_at,
            run_id=extraction.run_id,
            schema_policy=self.schema_policy,
            log=self.log,
            id_range=IdRange.from_value(self.id_range) if self.id_range else None,
        )
        load.setup()  # creates or checks the table before any data request
        self.log.info(
            "Loading %s %s for %s into %s (write_mode=%s)",
            self.dataset,
            extraction.options or "",
            window or "a snapshot",
            table,
            self.write_mode,
        )
        if entry.deletions_of is not None:
            default = (
                default_output_dir(dag_id(context, self.dag_id), self.dataset) / STATE_DIRECTORY
            )
            store = StateStore(self.state_uri or default.as_uri())
            pages = deletion_pages(extraction, store, self.log)
        else:
            pages = extraction.pages()
        empty_ok = self.allow_empty or entry.deletions_of is not None

        def refuse_empty(result: Any) -> None:
            if result.rows == 0 and result.rejected == 0 and not empty_ok:
                raise CopernicaEmptyResultError(
                    f"No {self.dataset} records in {window or 'the snapshot'}; table {table} "
                    "was left as it was. Set allow_empty=True to load an empty interval."
                )

        result = load.run(pages, refuse_empty)
        uri = dialect.asset_uri(table)
        self._landed = lineage.landed(
            extraction.settings,
            entry,
            extraction.options,
            uri,
            load.mode.table_columns([c for c in extraction.columns if c.name in load.columns]),
            result.rows,
            output=dialect.lineage_naming(table),
        )
        landed = {
            "table": str(table),
            "uri": uri,
            "rows": result.rows,
            "rejected": result.rejected,
            "write_mode": self.write_mode,
            "counts": dict(result.counts),
            "dataset": self.dataset,
            "interval_start": window.start.isoformat() if window else None,
            "interval_end": window.end.isoformat() if window else None,
        } | ({"id_range": IdRange.from_value(self.id_range).as_dict()} if self.id_range else {})
        self._emit_table_event(context, uri, landed)
        return {**landed, "api_calls": hook.api_calls}

    def _emit_table_event(self, context: Context, uri: str, extra: dict[str, Any]) -> None:
        from airflow.sdk import Asset

        events = context.get("outlet_events")
        if events is None:  # e.g. execute() called directly
            return
        events[self.table_alias].add(Asset(uri), extra=extra)
        self.log.info("Asset event on %s: %s rows", uri, extra["rows"])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the Copernica endpoint in, the table out (namespace and name per the
        OpenLineage naming spec, e.g. ``postgres://host:5432`` + ``db.schema.table``)."""
        return lineage.operator_lineage(getattr(self, "_landed", None))


def default_table(entry: Any) -> str:
    """``copernica_<dataset>``; a deletions dataset's default is its records' table."""
    if entry.deletions_of is not None:
        return f"copernica_{entry.deletions_of.removesuffix('_ids')}s"
    return f"copernica_{entry.name}"
