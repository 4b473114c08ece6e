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
  :func:`probe_id_sample`), cuts the ids into
  ``partitions`` ranges and returns one small dict per part, ``{"id_range": {"after": N,
  "upto": M}, "output_uri": ".../part-00003-of-00008.jsonl"}``: the keyword arguments of one
  mapped task;
* each mapped ``CopernicaToStorageOperator`` writes its part atomically (the writer's
  temporary-then-commit), ids ``N < id <= M`` only;
* :class:`CopernicaManifestOperator` runs when every part succeeded and writes
  ``_manifest.json`` beside them, atomically, through the same storage layer: run id,
  interval, dataset, and per part its uri, id range, rows, bytes and sha256. Part files of an
  earlier run that it does not list are removed after it is written.

A reader takes a set only through its manifest (:func:`read_manifest`): no manifest, no set;
exactly the listed parts, nothing else in the directory; sizes and checksums as listed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_copernica.assets import default_output_dir
from airflow_provider_copernica.config import DEFAULT_CONN_ID
from airflow_provider_copernica.datasets import get_dataset, validate_options
from airflow_provider_copernica.exceptions import (
    CopernicaAPIError,
    CopernicaConfigError,
    CopernicaError,
)
from airflow_provider_copernica.filters import id_range_conditions
from airflow_provider_copernica.writers import FORMATS, check_file_format

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_copernica.hooks.copernica import CopernicaHook
    from airflow_provider_copernica.partitions import IdRange
    from airflow_provider_copernica.windows import Window

MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 1
MAX_PARTITIONS = 1024
PART_NAME = re.compile(r"^part-(\d{5})-of-(\d{5})\.[a-z]+$")
_CHUNK = 1 << 20


def part_name(index: int, count: int, file_format: str) -> str:
    """``part-00003-of-00008.jsonl``: zero-based index, the set's size, the format's
    extension. A set of another size never shares a name with this one."""
    return f"part-{index:05d}-of-{count:05d}{FORMATS[file_format].extension}"


def check_partitions(value: object) -> int:
    """``partitions`` as an int in ``1..MAX_PARTITIONS`` (a rendered template may be a
    string)."""
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_PARTITIONS:
        raise CopernicaConfigError(
            f"partitions must be a whole number from 1 to {MAX_PARTITIONS}, got {value!r}"
        )
    return int(text)


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def _window(context: Context, snapshot: bool) -> Window | None:
    from airflow_provider_copernica.windows import window_from_context

    try:
        return window_from_context(context)
    except CopernicaConfigError:
        if snapshot:
            return None  # a snapshot needs none
        raise


def _run_id(context: Context) -> str | None:
    return context.get("run_id") or getattr(context.get("dag_run"), "run_id", None)


@dataclass(frozen=True)
class IdSample:
    """What the planner's one probe learnt: the highest id, the record count, and the
    lowest id among the ``sampled`` highest records."""

    max_id: int
    total: int
    lowest_sampled: int
    sampled: int

    @property
    def low_estimate(self) -> int:
        """Where the ids begin: exact when the sample holds every record, else extrapolated
        from the sample's id density (Copernica's ids are account-wide, so a database's ids
        are neither dense nor starting near 0)."""
        if self.sampled == 0:
            return 0
        if self.sampled >= self.total or self.sampled == 1:
            return max(self.lowest_sampled - 1, 0)
        ids_per_record = (self.max_id - self.lowest_sampled) / (self.sampled - 1)
        return max(int(self.max_id - ids_per_record * self.total), 0)

    def split(self, parts: int) -> list[IdRange]:
        """``parts`` ranges cut evenly between the estimated lowest and the highest id;
        the first starts at 0 and the last is open-ended, so no record is missed whatever
        the estimate."""
        from airflow_provider_copernica.partitions import IdRange, split_id_range

        ranges = split_id_range(self.max_id, parts, after=self.low_estimate)
        ranges[0] = IdRange(0, ranges[0].upto)
        return ranges


def probe_id_sample(
    hook: CopernicaHook, path: str, params: Sequence[tuple[str, str]], sample: int
) -> IdSample:
    """ONE request: the ``sample`` highest-id records of the listing (``orderby=id&order=
    desc``) with the envelope's ``total``: a whole page, whose ids show how dense they are
    (one call whatever its size: calls are billed, not bytes)."""
    owned = {"start", "limit", "orderby", "order", "total"}
    query = [(k, v) for k, v in params if k not in owned]
    query += [("orderby", "id"), ("order", "desc"), ("limit", str(sample)), ("total", "true")]
    body = hook.get(path, query)
    if not isinstance(body, Mapping):
        raise CopernicaAPIError(f"GET {path}: expected a paged envelope to probe id bounds")
    records = body.get("data") or []
    total = int(body.get("total") or 0)
    try:
        ids = [int(r.get("ID", r.get("id"))) for r in records]
    except (TypeError, ValueError):
        raise CopernicaAPIError(f"GET {path}: a probed record has no integer ID") from None
    if not ids:
        return IdSample(0, total, 0, 0)
    return IdSample(max(ids), max(total, len(ids)), min(ids), len(ids))


class CopernicaPartitionsOperator(BaseOperator):
    """Plan a partitioned extraction: ONE probe request, ``partitions`` id ranges.

    Returns (XCom) a list of ``{"id_range": {...}, "output_uri": ...}``, one per part, for
    ``CopernicaToStorageOperator.partial(...).expand_kwargs(plan.output)``. The parts go to
    ``output_dir`` (templated; default ``$AIRFLOW_HOME/data/copernica/<dag_id>/<dataset>/
    <interval>``, or ``.../<run_id>`` for a snapshot without interval). Before probing it
    removes ``output_dir``'s ``_manifest.json``: until the new one is written, the set is
    incomplete. Fewer parts than asked when the id span is smaller. Give it the parts'
    ``file_format`` (the parts' names carry its extension) and ``output_conn_id``.
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
        from airflow_provider_copernica.filters import check_conditions
        from airflow_provider_copernica.hooks.copernica import CopernicaHook
        from airflow_provider_copernica.planning import api_path, window_filters
        from airflow_provider_copernica.writers import canonical_output_uri, open_storage

        count = check_partitions(self.partitions)
        base = get_dataset(self.dataset)
        options = validate_options(base, self.dataset_options)
        entry = base.configured(options)
        window = _window(context, entry.snapshot)
        directory = canonical_output_uri(
            self.output_dir or self._default_dir(context, window),
            self.output_conn_id,
            directory=True,
        )
        manifest = open_storage(_join(directory, MANIFEST_NAME), self.output_conn_id)
        manifest.check()  # an unwritable target fails before any API call
        if manifest.remove(manifest.path):
            self.log.info(
                "Removed the previous manifest %s: the set is being replaced", manifest.uri
            )

        hook = CopernicaHook(self.copernica_conn_id)
        settings = hook.settings
        filters = window_filters(entry, options, None if entry.snapshot else window, settings.tz)
        style = entry.window_params_for(options.get("product"))
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
                "output_uri": _join(directory, part_name(k, len(ranges), self.file_format)),
            }
            for k, part in enumerate(ranges)
        ]

    def _default_dir(self, context: Context, window: Window | None) -> str:
        dag = context.get("dag")
        dag_id = getattr(dag, "dag_id", None) or self.dag_id
        label = (
            window.label if window is not None else re.sub(r"[^\w.-]", "_", _run_id(context) or "")
        )
        return (default_output_dir(str(dag_id), self.dataset) / label).as_uri()


class CopernicaManifestOperator(BaseOperator):
    """Write ``_manifest.json`` for a set of parts, last and atomically.

    ``parts`` is the mapped extraction's output (each ``{uri, rows, dataset, interval_start,
    interval_end, id_range, ...}``), ``plan`` the planner's (optional: with it, the manifest
    is refused unless the parts are exactly the planned ones). All parts must lie in one
    directory; the manifest goes there. Each part's bytes and sha256 are read back once.
    Part files (``part-NNNNN-of-NNNNN.*``) in that directory that the manifest does not list
    (an earlier run with another number of parts) are removed after the manifest is written.
    Returns ``{manifest_uri, parts, rows}``.
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
        from airflow_provider_copernica.writers import open_storage

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
        manifest_uri = _join(directory, MANIFEST_NAME)
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
            "dag_id": self._dag_id(context),
            "run_id": _run_id(context),
            "dataset": first.get("dataset"),
            "interval_start": first.get("interval_start"),
            "interval_end": first.get("interval_end"),
            "written_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "rows": sum(p["rows"] for p in listed),
            "parts": listed,
        }
        write_atomically(manifest_uri, _dumps(document), self.output_conn_id)
        self.log.info("Manifest %s: %d parts, %d rows", manifest_uri, len(listed), document["rows"])
        storage = open_storage(manifest_uri, self.output_conn_id)
        keep = {uri.rsplit("/", 1)[1] for uri in uris}
        for path in storage.list():
            name = path.rstrip("/").rsplit("/", 1)[-1]
            if PART_NAME.match(name) and name not in keep and storage.remove(path):
                self.log.info("Removed %s: a part of an earlier set, not in the manifest", path)
        return {"manifest_uri": storage.uri, "parts": len(listed), "rows": document["rows"]}

    def _dag_id(self, context: Context) -> str:
        dag = context.get("dag")
        return str(getattr(dag, "dag_id", None) or self.dag_id)


def _dumps(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=False) + "\n").encode()


def _open(uri: str, conn_id: str | None) -> Any:
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(uri, conn_id=conn_id).open("rb")


def file_digest(uri: str, conn_id: str | None = None) -> tuple[int, str]:
    """``(bytes, sha256 hex)`` of one stored file, read once in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with _open(uri, conn_id) as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def write_atomically(uri: str, data: bytes, conn_id: str | None = None) -> str:
    """Write ``data`` to ``uri`` through the writers' storage layer: a temporary beside it,
    then the atomic commit (local ``os.replace``; object stores: the object appears whole)."""
    from airflow_provider_copernica.writers import open_storage, temporary_name

    storage = open_storage(uri, conn_id)
    storage.check()
    temporary = storage.sibling(temporary_name(storage.name))
    file = storage.open_temporary(temporary)
    try:
        file.write(data)
        storage.commit(file, temporary)
    except BaseException:
        file.close()
        storage.remove(temporary)
        raise
    return storage.uri


def read_manifest(
    directory: str, conn_id: str | None = None, *, verify: bool = True
) -> dict[str, Any]:
    """The complete set in ``directory``: its manifest, with each listed part checked.

    The reader's rule: no ``_manifest.json``, no set (being written, or a part failed); take
    exactly the listed ``parts[*].uri``, never a directory listing; with ``verify`` each part
    must have the listed size and sha256 (else a re-run is replacing the set: read again
    later). Raises :class:`CopernicaError` when the set is not complete."""
    uri = _join(directory, MANIFEST_NAME)
    try:
        with _open(uri, conn_id) as file:
            document: dict[str, Any] = json.loads(file.read())
    except FileNotFoundError:
        raise CopernicaError(
            f"No {MANIFEST_NAME} in {directory}: the set is not complete"
        ) from None
    for part in document["parts"] if verify else ():
        try:
            size, digest = file_digest(part["uri"], conn_id)
        except FileNotFoundError:
            raise CopernicaError(f"{part['uri']} listed in {uri} is missing") from None
        if (size, digest) != (part["bytes"], part["sha256"]):
            raise CopernicaError(
                f"{part['uri']} differs from {uri} (a re-run is replacing the set): read later"
            )
    return document
