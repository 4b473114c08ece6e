"""Partitioned extraction across Airflow workers: one plan, P mapped parts, a manifest last.

A large keyset-paged extraction (profiles, subprofiles, selections' members, their
snapshots) is split into id ranges with Airflow's dynamic task mapping::

    plan = CopernicaPartitionsOperator(task_id="plan", dataset="profiles",
                                       dataset_options={"database_id": 7616}, partitions=8)
    parts = CopernicaToStorageOperator.partial(
        task_id="extract_part", dataset="profiles", dataset_options={"database_id": 7616},
        allow_empty=True,
    ).expand_kwargs(plan.output)
    CopernicaManifestOperator(task_id="manifest", plan=plan.output, parts=parts.output)

* :class:`CopernicaPartitionsOperator` removes the directory's previous manifest (from then
  on the set counts as incomplete), makes ONE probe request (a page of the highest ids in the window,
  :func:`~airflow_provider_copernica.engine.id_ranges.probe_id_sample`), cuts the ids into
  ``partitions`` ranges and returns one small dict per part, ``{"id_range": {"after": N,
  "upto": M}, "output_uri": ".../part-00003-of-00008.jsonl"}``: the keyword arguments of one
  mapped task;
* each mapped ``CopernicaToStorageOperator`` writes its part atomically (the writer's
  temporary-then-commit), ids ``N < id <= M`` only;
* :class:`CopernicaManifestOperator` runs when every part succeeded and writes
  ``_manifest.json`` beside them, atomically, through the same storage layer: run id,
  interval, dataset, and per part its uri, id range, rows, bytes and sha256. Part files of an
  earlier run that it does not list are removed after it is written.

A reader takes a set only through its manifest (:func:`~airflow_provider_copernica.output.manifest.read_manifest`): no manifest, no set;
exactly the listed parts, nothing else in the directory; sizes and checksums as listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from airflow.sdk import BaseOperator

from airflow_provider_copernica.catalog.datasets import get_dataset, validate_options
from airflow_provider_copernica.client.settings import DEFAULT_CONN_ID
from airflow_provider_copernica.engine.filters import id_range_conditions
from airflow_provider_copernica.engine.id_ranges import probe_id_sample
from airflow_provider_copernica.exceptions import (
    CopernicaConfigError,
    CopernicaError,
)
from airflow_provider_copernica.output.assets import default_output_dir
from airflow_provider_copernica.output.manifest import (
    MANIFEST_NAME,
    MANIFEST_VERSION,
    PART_NAME,
    file_digest,
    join_uri,
    manifest_bytes,
    part_name,
)
from airflow_provider_copernica.output.writers import check_file_format, write_atomically
from airflow_provider_copernica.task_context import dag_id, run_id, task_window

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_copernica.interval import Window

MAX_PARTITIONS = 1024


def check_partitions(value: object) -> int:
    """``partitions`` as an int in ``1..MAX_PARTITIONS`` (a rendered template may be a
    string)."""
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_PARTITIONS:
        raise CopernicaConfigError(
            f"partitions must be a whole number from 1 to {MAX_PARTITIONS}, got {value!r}"
        )
    return int(text)


class CopernicaPartitionsOperator(BaseOperator):
    """Plan a partitioned extraction: ONE probe request, ``partitions`` id ranges.

    Before probing it removes ``output_dir``'s ``_manifest.json``: until the new one is
    written, the set is incomplete. Fewer parts than asked when the id span is smaller. See
    docs/scaling.md, "Partitioned extraction across workers".

    :param dataset: a keyset-paged dataset (``profiles``, ``profiles_snapshot``,
        ``subprofiles``, ``subprofiles_snapshot``, ``view_profiles``,
        ``miniview_subprofiles``); any other is refused when the DAG is parsed.
    :param dataset_options: the dataset's options, as for the extraction. (templated)
    :param partitions: how many id ranges (parts) to cut. (templated)
    :param output_dir: where the parts go; default
        ``$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>/<interval>`` (``.../<run_id>`` for
        a snapshot without interval). (templated)
    :param file_format: the parts' format (their names carry its extension).
    :param copernica_conn_id: the Copernica connection (default ``copernica_default``).
    :param output_conn_id: the Airflow connection of the object store ``output_dir`` names.
    :return: (XCom) one ``{"id_range": {...}, "output_uri": ...}`` per part, for
        ``CopernicaToStorageOperator.partial(...).expand_kwargs(plan.output)``.
    """

    template_fields: Sequence[str] = ("dataset_options", "output_dir", "partitions")
    template_fields_renderers = {"dataset_options": "json"}
    ui_color = "#d6ecf8"

    def __init__(
        self,
        *,
        dataset: str,
        dataset_options: Mapping[str, Any] | None = None,
        partitions: int | str = 4,
        output_dir: str | None = None,
        file_format: str = "jsonl",
        copernica_conn_id: str = DEFAULT_CONN_ID,
        output_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        entry = get_dataset(dataset)
        id_range_conditions(entry, {})  # keyset-paged datasets only: refused at DAG parse
        check_file_format(file_format)
        if not (isinstance(partitions, str) and "{{" in partitions):
            check_partitions(partitions)
        super().__init__(**kwargs)
        self.dataset = dataset
        self.dataset_options = dataset_options
        self.partitions = partitions
        self.output_dir = output_dir
        self.file_format = file_format
        self.copernica_conn_id = copernica_conn_id
        self.output_conn_id = output_conn_id

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_provider_copernica.engine.filters import check_conditions
        from airflow_provider_copernica.engine.plans import api_path, window_filters
        from airflow_provider_copernica.hooks.copernica import CopernicaHook
        from airflow_provider_copernica.output.writers import (
            canonical_output_uri,
            open_storage,
            require_file_format,
        )

        require_file_format(self.file_format)  # the worker's install (pyarrow for parquet)
        count = check_partitions(self.partitions)
        base = get_dataset(self.dataset)
        options = validate_options(base, self.dataset_options)
        entry = base.configured(options)
        window = task_window(context, entry.snapshot)
        directory = canonical_output_uri(
            self.output_dir or self._default_dir(context, window),
            self.output_conn_id,
            directory=True,
        )
        manifest = open_storage(join_uri(directory, MANIFEST_NAME), self.output_conn_id)
        manifest.check()  # an unwritable target fails before any API call
        if manifest.remove(manifest.path):
            self.log.info(
                "Removed the previous manifest %s: the set is being replaced", manifest.uri
            )

        hook = CopernicaHook(self.copernica_conn_id)
        settings = hook.settings
        filters = window_filters(entry, options, None if entry.snapshot else window, settings.tz)
        style = entry.window_params_for(cast("str | None", options.get("product")))
        check_conditions(entry.name, style if isinstance(style, str) else "", filters)
        path = api_path(entry.path, options, settings)
        bounds = probe_id_sample(hook, path, filters[0], settings.page_size)
        ranges = bounds.split(count)
        self.log.info(
            "%s %s: %d records, ids up to %d (from about %d) in %s; %d partitions (asked %d), "
            "1 probe call",
            self.dataset,
            options,
            bounds.total,
            bounds.max_id,
            bounds.low_estimate,
            window or "the snapshot",
            len(ranges),
            count,
        )
        return [
            {
                "id_range": part.as_dict(),
                "output_uri": join_uri(directory, part_name(k, len(ranges), self.file_format)),
            }
            for k, part in enumerate(ranges)
        ]

    def _default_dir(self, context: Context, window: Window | None) -> str:
        label = (
            window.label if window is not None else re.sub(r"[^\w.-]", "_", run_id(context) or "")
        )
        return (default_output_dir(dag_id(context, self.dag_id), self.dataset) / label).as_uri()


class CopernicaManifestOperator(BaseOperator):
    """Write ``_manifest.json`` for a set of parts, last and atomically.

    All parts must lie in one directory; the manifest goes there. Each part's bytes and
    sha256 are read back once. Part files (``part-NNNNN-of-NNNNN.*``) in that directory that
    the manifest does not list (an earlier run with another number of parts) are removed
    after the manifest is written.

    :param parts: the mapped extraction's output (each ``{uri, rows, dataset,
        interval_start, interval_end, id_range, ...}``). (templated)
    :param plan: the planner's output (optional: with it, the manifest is refused unless the
        parts are exactly the planned ones). (templated)
    :param output_conn_id: the Airflow connection of the object store the parts are in.
    :return: (XCom) ``{manifest_uri, parts, rows}``.
    """

    template_fields: Sequence[str] = ("parts", "plan")
    ui_color = "#c4e3f3"

    def __init__(
        self,
        *,
        parts: Any,
        plan: Any = None,
        output_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.parts = parts
        self.plan = plan
        self.output_conn_id = output_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_provider_copernica.output.writers import open_storage

        parts = [dict(p) for p in self.parts or ()]
        if not parts:
            raise CopernicaError("No parts to list: the partitioned extraction produced none")
        uris = [p["uri"] for p in parts]
        if self.plan is not None:
            planned = [str(item["output_uri"]) for item in self.plan]
            if sorted(uris) != sorted(planned):
                raise CopernicaError(
                    f"The parts landed ({len(uris)}) are not the planned ones ({len(planned)}): "
                    f"missing {sorted(set(planned) - set(uris))}, "
                    f"unexpected {sorted(set(uris) - set(planned))}"
                )
        directories = {uri.rsplit("/", 1)[0] for uri in uris}
        if len(directories) != 1 or len(set(uris)) != len(uris):
            raise CopernicaError(f"Parts must be distinct files in one directory, got {uris}")
        [directory] = directories
        manifest_uri = join_uri(directory, MANIFEST_NAME)
        listed = []
        for part in sorted(parts, key=lambda p: p["uri"]):
            size, digest = file_digest(part["uri"], self.output_conn_id)
            listed.append(
                {
                    "uri": part["uri"],
                    "id_range": part.get("id_range"),
                    "rows": part["rows"],
                    "bytes": size,
                    "sha256": digest,
                }
            )
        first = parts[0]
        document = {
            "manifest_version": MANIFEST_VERSION,
            "dag_id": dag_id(context, self.dag_id),
            "run_id": run_id(context),
            "dataset": first.get("dataset"),
            "interval_start": first.get("interval_start"),
            "interval_end": first.get("interval_end"),
            "written_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "rows": sum(p["rows"] for p in listed),
            "parts": listed,
        }
        write_atomically(manifest_uri, manifest_bytes(document), self.output_conn_id)
        self.log.info("Manifest %s: %d parts, %d rows", manifest_uri, len(listed), document["rows"])
        storage = open_storage(manifest_uri, self.output_conn_id)
        keep = {uri.rsplit("/", 1)[1] for uri in uris}
        for path in storage.list():
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if PART_NAME.match(name) and name not in keep and storage.remove(path):
                self.log.info("Removed %s: a part of an earlier set, not in the manifest", path)
        return {"manifest_uri": storage.uri, "parts": len(listed), "rows": document["rows"]}
