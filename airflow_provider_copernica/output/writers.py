"""Streaming JSONL / CSV / Parquet writers with an atomic commit, on Airflow object storage.

Rows arrive page by page (``write(rows)``) and go straight to a hidden temporary object
beside the target (``.<name>.tmp-<uuid>``); memory stays flat whatever the row count.
``commit()`` moves the temporary object onto the target (local disk: ``os.replace``, atomic;
object stores: server-side copy then delete, and an object PUT is atomic anyway), ``abort()``
deletes it. So the target holds either the complete previous result or the complete new one.

Storage goes through :class:`airflow.sdk.ObjectStoragePath`: plain paths and ``file://`` work
out of the box, ``s3://`` / ``gs://`` with the matching Airflow provider and a connection
(``conn_id``), any other fsspec filesystem once attached with ``airflow.sdk.io.attach``.

Small whole files (the partitioned set's manifest, the faithful copy's state files) go
through the same :class:`Storage` layer with :func:`write_atomically`.

Two seams: :data:`FORMATS` (one :class:`FileFormat` per ``file_format``) and
:data:`STORAGE_BACKENDS` (one :class:`Storage` class per URI scheme: :class:`LocalStorage`
for paths and ``file://``, :class:`FsspecStorage` for everything else).
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import unquote

import orjson

from airflow_provider_copernica.booleans import parse_bool
from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaConfigError, CopernicaError
from airflow_provider_copernica.output.collector import CollectorHold

if TYPE_CHECKING:
    import pyarrow as pa
    from airflow.sdk import ObjectStoragePath
    from fsspec import AbstractFileSystem

# A temporary object untouched for this long belongs to a killed worker (a live writer
# appends every page; on object stores the temporary exists only between upload and commit).
STALE_TEMPORARY_SECONDS = 3600
PARQUET_ROW_GROUP_ROWS = 50_000
_LOCAL_BUFFER_BYTES = 1 << 20
_LOCAL_PROTOCOLS = ("", "file", "local")
_PROVIDER_HINTS = {
    "s3": "apache-airflow-providers-amazon[s3fs] (or airflow-provider-copernica[s3])",
    "s3a": "apache-airflow-providers-amazon[s3fs] (or airflow-provider-copernica[s3])",
    "gs": "apache-airflow-providers-google (or airflow-provider-copernica[gcs])",
    "gcs": "apache-airflow-providers-google (or airflow-provider-copernica[gcs])",
    "abfs": "apache-airflow-providers-microsoft-azure",
    "az": "apache-airflow-providers-microsoft-azure",
}


def temporary_name(final_name: str, token: str | None = None) -> str:
    """Name of a temporary object for ``final_name``: ``.<final_name>.tmp-<token>``.

    ``token`` defaults to a fresh uuid; ``token=""`` gives the prefix shared by all of them.
    The one definition of the pattern, used by the writers and by the stale cleanup.
    """
    return f".{final_name}.tmp-{uuid.uuid4().hex if token is None else token}"


# --- where the output goes --------------------------------------------------------------


@dataclass(frozen=True)
class _Location:
    """A parsed output URI: its protocol, the path on that storage and the canonical URI."""

    source: ObjectStoragePath
    protocol: str
    path: str
    uri: str

    @property
    def local(self) -> bool:
        return self.protocol in _LOCAL_PROTOCOLS


def _storage_path(
    uri: str | ObjectStoragePath, conn_id: str | None, *, directory: bool = False
) -> ObjectStoragePath:
    from airflow.sdk import ObjectStoragePath

    if isinstance(uri, ObjectStoragePath):
        if conn_id is None or uri.conn_id == conn_id:
            return uri
        uri = f"{uri.protocol}://{uri.path.lstrip('/')}" if uri.protocol else uri.path
    text = str(uri).strip()
    if not text:
        raise CopernicaConfigError("output_uri is empty; give a file path or URI")
    if directory:
        text = text.rstrip("/") or "/"
    elif text.endswith("/"):
        raise CopernicaConfigError(
            f"output_uri {text!r} names a directory; it must name a file (e.g. .../out.jsonl)"
        )
    try:
        return ObjectStoragePath(text, conn_id=conn_id)
    except ValueError as err:
        raise CopernicaConfigError(f"output_uri {text!r} is not usable: {err}") from None


def _locate(
    uri: str | ObjectStoragePath, conn_id: str | None, *, directory: bool = False
) -> _Location:
    """Parse and canonicalise ``uri`` without touching any storage (safe at DAG parse time).

    ``directory=True`` accepts a directory or bucket (for naming an Asset), not only a file.
    """
    source = _storage_path(uri, conn_id, directory=directory)
    protocol = source.protocol or ""
    path = source.path
    if protocol in _LOCAL_PROTOCOLS:
        # A URI's path is percent-encoded (Path.as_uri() writes a space as %20); a plain path
        # is taken literally, with ``~`` meaning the home directory as in a shell.
        path = unquote(path) if protocol else os.path.expanduser(path)
    if ".." in path.replace("\\", "/").split("/"):  # also a decoded %2e%2e: climbs out
        raise CopernicaConfigError(
            f"output_uri {str(uri)!r} contains a '..' path segment; give a path without '..'"
        )
    if protocol in _LOCAL_PROTOCOLS:
        path = os.path.abspath(path)
        return _Location(source, protocol, path, Path(path).as_uri())
    canonical = f"{protocol}://{path.strip('/') if directory else path.lstrip('/')}"
    if not path.strip("/") and not directory:
        raise CopernicaConfigError(f"output_uri {canonical!r} must name a file, not a bucket")
    return _Location(source, protocol, path, canonical)


def canonical_output_uri(
    uri: str | ObjectStoragePath, conn_id: str | None = None, *, directory: bool = False
) -> str:
    """The one canonical form of an output URI, computed without touching any storage.

    Local paths become ``file:///abs/path`` (``~`` expanded, relative paths against the
    current directory, percent-encoded); object stores ``<scheme>://<bucket>/<key>``. A
    ``..`` segment is refused. The writer writes exactly there and the operator names its
    Asset with it; :func:`check_output_uri` returns the same string. ``directory=True``
    canonicalises a directory or bucket instead (no trailing ``/``).
    """
    return _locate(uri, conn_id, directory=directory).uri


class Storage(Protocol):
    """One output target on one kind of storage: the few operations the writer needs.

    Paths are strings in the storage's own namespace; temporaries live beside the target.
    """

    uri: str  # the canonical URI of the target
    path: str  # the target's path on this storage

    @property
    def name(self) -> str: ...
    def sibling(self, name: str) -> str: ...
    def check(self) -> None: ...
    def open_temporary(self, path: str) -> BinaryIO: ...
    def commit(self, file: BinaryIO, temporary: str) -> None: ...
    def remove(self, path: str) -> bool: ...
    def list(self) -> list[str]: ...
    def age(self, path: str) -> float | None: ...


class LocalStorage:
    """The local disk, through ``os``: exclusive create, fsync, atomic ``os.replace``."""

    def __init__(self, location: _Location) -> None:
        self.path = location.path
        self.uri = location.uri
        self.parent = os.path.dirname(self.path)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def sibling(self, name: str) -> str:
        return os.path.join(self.parent, name)

    def check(self) -> None:
        if os.path.isdir(self.path):
            raise CopernicaConfigError(f"output_uri {self.uri} is a directory, not a file")
        ancestor = self.parent
        while not os.path.exists(ancestor):
            ancestor = os.path.dirname(ancestor)
        if not os.path.isdir(ancestor):
            raise CopernicaConfigError(
                f"output_uri {self.uri} cannot be created: {ancestor} is a file, not a directory"
            )
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise CopernicaConfigError(
                f"output_uri {self.uri} cannot be created: no write permission in {ancestor}"
            )

    def open_temporary(self, path: str) -> BinaryIO:
        os.makedirs(self.parent, exist_ok=True)
        return open(path, "xb", buffering=_LOCAL_BUFFER_BYTES)  # noqa: SIM115

    def commit(self, file: BinaryIO, temporary: str) -> None:
        file.flush()
        os.fsync(file.fileno())
        file.close()
        os.replace(temporary, self.path)
        _fsync_directory(self.parent)

    def remove(self, path: str) -> bool:
        try:
            os.remove(path)
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[str]:
        try:
            return [entry.path for entry in os.scandir(self.parent)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def age(self, path: str) -> float | None:
        try:
            return time.time() - os.stat(path).st_mtime
        except OSError:  # vanished meanwhile
            return None


class FsspecStorage:
    """Any fsspec filesystem Airflow's object storage resolves (S3, GCS, memory, ...).

    An object appears only when its upload completes; :meth:`commit` copies it onto the
    target server-side and deletes the temporary (``fs.mv``).
    """

    def __init__(self, location: _Location) -> None:
        protocol = location.protocol
        try:
            self.fs: AbstractFileSystem = location.source.fs
        except (ValueError, ImportError) as err:
            hint = _PROVIDER_HINTS.get(protocol, "the Airflow provider that supplies it")
            raise CopernicaConfigError(
                f"No storage is available for scheme {protocol!r} (output_uri "
                f"{str(location.source)!r}): {err}. Install {hint}, or attach an fsspec "
                f"filesystem with airflow.sdk.io.attach({protocol!r}, fs=...). Built-in: plain "
                "paths and file://."
            ) from None
        self.path = location.path
        self.uri = location.uri
        self.parent = self.path.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def sibling(self, name: str) -> str:
        return f"{self.parent}/{name}"

    def check(self) -> None:
        try:
            is_dir = self.fs.isdir(self.path)
        except Exception as err:  # any storage error here means "cannot write there"
            raise CopernicaConfigError(
                f"output_uri {self.uri} is not reachable: {type(err).__name__}: {err}"
            ) from None
        if is_dir:
            raise CopernicaConfigError(f"output_uri {self.uri} is a directory, not a file")

    def open_temporary(self, path: str) -> BinaryIO:
        return self.fs.open(path, "wb")

    def commit(self, file: BinaryIO, temporary: str) -> None:
        file.close()
        self.fs.mv(temporary, self.path)
        self.fs.invalidate_cache(self.parent)

    def remove(self, path: str) -> bool:
        try:
            if not self.fs.exists(path):
                return False
            self.fs.rm(path)
        except FileNotFoundError:
            return False
        return True

    def list(self) -> list[str]:
        self.fs.invalidate_cache(self.parent)
        try:
            return [str(p) for p in self.fs.ls(self.parent, detail=False)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def age(self, path: str) -> float | None:
        try:
            return time.time() - self.fs.modified(path).timestamp()
        except Exception:  # vanished meanwhile, or a store without modification times
            return None


# Storage backend per URI scheme; any other scheme goes through fsspec. A backend that needs
# more than fsspec gives (e.g. aborting multipart uploads) is one class plus one entry here.
STORAGE_BACKENDS: dict[str, Callable[[_Location], Storage]] = dict.fromkeys(
    _LOCAL_PROTOCOLS, LocalStorage
)


def open_storage(uri: str | ObjectStoragePath, conn_id: str | None = None) -> Storage:
    """The :class:`Storage` backend for ``uri`` (nothing is created or checked yet)."""
    location = _locate(uri, conn_id)
    return STORAGE_BACKENDS.get(location.protocol, FsspecStorage)(location)


def write_atomically(uri: str | ObjectStoragePath, data: bytes, conn_id: str | None = None) -> str:
    """Write a small file whole (a manifest, a state file) the way :class:`RecordWriter`
    writes a large one: a temporary beside it, then the storage's atomic commit (local
    ``os.replace`` with fsync; object stores: the object appears whole). Returns its URI."""
    storage = open_storage(uri, conn_id)
    storage.check()
    temporary = storage.sibling(temporary_name(storage.name))
    file = storage.open_temporary(temporary)
    try:
        file.write(data)
        storage.commit(file, temporary)
    except BaseException:
        with contextlib.suppress(Exception):
            file.close()
        storage.remove(temporary)
        raise
    return storage.uri


def check_output_uri(
    uri: str | ObjectStoragePath, conn_id: str | None = None, *, file_format: str | None = None
) -> str:
    """Validate an output URI (and optionally a file format) before any API call.

    Raises :class:`CopernicaConfigError` for an unknown or uninstalled scheme, a directory,
    a ``..`` segment, or a local path whose parent cannot be created (e.g. it lies under a
    file). Creates nothing. Returns :func:`canonical_output_uri` of ``uri``.
    """
    if file_format is not None:
        require_file_format(file_format)
    storage = open_storage(uri, conn_id)
    storage.check()
    return storage.uri


def _remove_stale(storage: Storage, older_than_seconds: float) -> list[str]:
    prefix = temporary_name(storage.name, "")
    removed: list[str] = []
    for path in storage.list():
        if not path.rstrip("/").rsplit("/", 1)[-1].startswith(prefix):
            continue
        age = storage.age(path)
        if age is None or age < older_than_seconds:
            continue
        if storage.remove(path):
            removed.append(path)
    return removed


def remove_stale_temporaries(
    uri: str | ObjectStoragePath,
    older_than_seconds: float = STALE_TEMPORARY_SECONDS,
    *,
    conn_id: str | None = None,
) -> list[str]:
    """Delete temporaries of this target left by killed workers; return their paths.

    Only objects named ``temporary_name(<target name>, ...)`` in the target's directory and
    not modified for ``older_than_seconds`` are removed, so a concurrent live writer is safe.
    :func:`open_writer` calls this (with :data:`STALE_TEMPORARY_SECONDS`) before each write.
    """
    return _remove_stale(open_storage(uri, conn_id), older_than_seconds)


# --- formats ----------------------------------------------------------------------------


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise CopernicaConfigError(
            "file_format='parquet' needs pyarrow: pip install 'airflow-provider-copernica[parquet]'"
        ) from None
    return pyarrow


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


def _text(value: Any) -> str:
    """A scalar as output text: ISO-8601 for dates, JSON for nested values, str otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return _dumps(value)
    return str(value)


class _Format(Protocol):
    def start(self, file: BinaryIO) -> None: ...
    def write(self, rows: list[dict[str, Any]]) -> None: ...
    def finish(self) -> None: ...
    def discard(self) -> None: ...


class _JsonlFormat:
    """One JSON object per line, keys in column order, missing columns as null."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self._names = [c.name for c in columns]

    def start(self, file: BinaryIO) -> None:
        self._file = file

    def write(self, rows: list[dict[str, Any]]) -> None:
        names = self._names
        dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        self._file.write(
            b"".join(
                [
                    dumps(
                        row if list(row) == names else {n: row.get(n) for n in names},
                        default=_json_default,
                        option=option,
                    )
                    for row in rows
                ]
            )
        )

    def finish(self) -> None:
        pass

    def discard(self) -> None:
        pass


class _CsvFormat:
    """RFC 4180 CSV with a header; nested values JSON-encoded, None empty, bools true/false."""

    def __init__(self, columns: Sequence[Column]) -> None:
        self._names = [c.name for c in columns]
        # Only these columns can hold values the csv module would not write as we want
        # (bools, lists, dicts, datetimes); the rest are str/int/float/None already.
        self._convert = [
            i for i, c in enumerate(columns) if c.type in ("bool", "list", "json", "timestamp")
        ]

    def start(self, file: BinaryIO) -> None:
        self._file = file
        self._emit([self._names])

    def _emit(self, records: Any) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(records)
        self._file.write(buffer.getvalue().encode("utf-8"))

    def write(self, rows: list[dict[str, Any]]) -> None:
        names, convert = self._names, self._convert
        records = []
        for row in rows:
            values = list(row.values()) if list(row) == names else [row.get(n) for n in names]
            for i in convert:
                value = values[i]
                if value is not None and value.__class__ is not str:
                    values[i] = _text(value)
            records.append(values)
        self._emit(records)

    def finish(self) -> None:
        pass

    def discard(self) -> None:
        pass


_ARROW_TYPES = {
    "int": "int64",
    "float": "float64",
    "bool": "bool_",
    "str": "string",
    "timestamp": "string",
    "json": "string",
}


def _arrow_type(pa: Any, column_type: str) -> pa.DataType:
    if column_type == "list":
        return pa.list_(pa.string())
    return getattr(pa, _ARROW_TYPES.get(column_type, "string"))()


def _coerce(column: Column, value: Any) -> Any:
    """Make one value fit its Parquet column type, or fail naming the column."""
    if value is None:
        return None
    kind = column.type
    try:
        if kind == "json":
            return _dumps(value)
        if kind == "list":
            items = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            return [None if item is None else _text(item) for item in items]
        if kind == "int" and not isinstance(value, float):
            return int(value)
        if kind == "int" and float(value).is_integer():
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "bool":
            parsed = parse_bool(value)
            if parsed is None:
                raise ValueError(value)
            return parsed
        if kind in ("str", "timestamp"):
            return _text(value)
    except (TypeError, ValueError):
        pass
    raise CopernicaError(
        f"Column {column.name!r} has type {kind} but a row holds {value!r}; cannot write it "
        "to Parquet"
    )


class _ParquetFormat:
    """Parquet via pyarrow, typed from the columns, written in row groups."""

    def __init__(self, columns: Sequence[Column], row_group_rows: int) -> None:
        pa = _pyarrow()
        self._pa = pa
        self._columns = list(columns)
        self._names = [c.name for c in columns]
        self._schema = pa.schema([(c.name, _arrow_type(pa, c.type)) for c in columns])
        self._row_group_rows = row_group_rows
        self._pending: list[Any] = []  # pyarrow RecordBatches
        self._pending_rows = 0

    def start(self, file: BinaryIO) -> None:
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(file, self._schema)

    def _array(self, column: Column, arrow_type: pa.DataType, values: Sequence[Any]) -> pa.Array:
        pa = self._pa
        if column.type != "json":
            try:
                return pa.array(values, type=arrow_type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                pass
        return pa.array([_coerce(column, v) for v in values], type=arrow_type)

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = self._names
        if all(list(row) == names for row in rows):  # the usual case: transpose in C
            values: Sequence[Sequence[Any]] = list(
                zip(*[row.values() for row in rows], strict=True)
            )
        else:
            values = [[row.get(name) for row in rows] for name in names]
        arrays = [
            self._array(column, field.type, column_values)
            for column, field, column_values in zip(
                self._columns, self._schema, values, strict=True
            )
        ]
        self._pending.append(self._pa.RecordBatch.from_arrays(arrays, schema=self._schema))
        self._pending_rows += len(rows)
        if self._pending_rows >= self._row_group_rows:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        if not self._pending_rows:
            return
        table = self._pa.Table.from_batches(self._pending, schema=self._schema)
        size = self._row_group_rows
        while table.num_rows >= size or (final and table.num_rows):
            self._writer.write_table(table.slice(0, size), row_group_size=size)
            table = table.slice(size)
        self._pending = table.to_batches()
        self._pending_rows = table.num_rows

    def finish(self) -> None:
        self._flush(final=True)
        self._writer.close()

    def discard(self) -> None:
        self._pending = []
        # Close now, while the file is still open, rather than from pyarrow's __del__.
        with contextlib.suppress(Exception):
            self._writer.close()


@dataclass(frozen=True)
class FileFormat:
    """One output format: its name (``file_format=``), file extension and encoder.

    ``requires`` is called before anything is written; it raises
    :class:`CopernicaConfigError` naming the extra to install when a dependency is missing.
    Adding a format is one encoder class (``start``/``write``/``finish``/``discard``) plus one
    entry in :data:`FORMATS`.
    """

    name: str
    extension: str
    encoder: Callable[[Sequence[Column], int], _Format]  # (columns, parquet row group rows)
    requires: Callable[[], object] | None = None


FORMATS: dict[str, FileFormat] = {
    f.name: f
    for f in (
        FileFormat("jsonl", ".jsonl", lambda columns, _: _JsonlFormat(columns)),
        FileFormat("csv", ".csv", lambda columns, _: _CsvFormat(columns)),
        FileFormat("parquet", ".parquet", _ParquetFormat, requires=_pyarrow),
    )
}
FILE_FORMATS = tuple(FORMATS)  # the valid ``file_format`` values, in documentation order


def check_file_format(file_format: str) -> str:
    """Validate the value of ``file_format`` (at DAG parse: no worker install is checked).

    Whether the worker has what the format needs (pyarrow for parquet) is
    :func:`require_file_format`, called when the task runs.
    """
    if file_format not in FILE_FORMATS:
        raise CopernicaConfigError(
            f"Unknown file_format {file_format!r}; valid formats: {', '.join(FILE_FORMATS)}"
        )
    return file_format


def require_file_format(file_format: str) -> str:
    """Validate ``file_format`` and that this worker has what it needs; return it.

    Raises :class:`CopernicaConfigError` naming the extra to install (e.g. ``[parquet]``).
    """
    requires = FORMATS[check_file_format(file_format)].requires
    if requires is not None:
        requires()
    return file_format


# --- the writer -------------------------------------------------------------------------


class RecordWriter:
    """Streams rows into a temporary object and atomically publishes it on :meth:`commit`.

    Use as a context manager: leaving the block normally commits (if not done already),
    leaving it with an exception aborts. ``rows_written`` counts the rows written so far.
    While it is open the garbage collector runs less often (:mod:`.collector`): the rows
    stream through the process for exactly that long.
    """

    def __init__(self, storage: Storage, file_format: str, fmt: _Format) -> None:
        self.file_format = file_format
        self.rows_written = 0
        self._storage = storage
        self._fmt = fmt
        self._temporary = storage.sibling(temporary_name(storage.name))
        self._state = "open"
        self._file = storage.open_temporary(self._temporary)
        self._collector = CollectorHold()
        try:
            fmt.start(self._file)
        except BaseException:
            self.abort()
            raise

    @property
    def uri(self) -> str:
        """The final URI (``file:///...`` for local paths)."""
        return self._storage.uri

    @property
    def temporary_path(self) -> str:
        """Path of the temporary object on its filesystem (for diagnostics)."""
        return self._temporary

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append one page of rows (dicts keyed by column name; missing keys are null)."""
        if self._state != "open":
            raise CopernicaError(f"Cannot write: the writer for {self.uri} is {self._state}")
        self._fmt.write(rows)
        self.rows_written += len(rows)

    def commit(self) -> str:
        """Finish the file and atomically move it onto the final path; return its URI."""
        if self._state != "open":
            raise CopernicaError(f"Cannot commit: the writer for {self.uri} is {self._state}")
        try:
            self._fmt.finish()
            self._storage.commit(self._file, self._temporary)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        self._collector.release()
        return self.uri

    def abort(self) -> None:
        """Discard the temporary object; the final path keeps its previous content."""
        if self._state == "committed":
            return
        self._state = "aborted"
        self._collector.release()
        with contextlib.suppress(Exception):
            self._fmt.discard()
        with contextlib.suppress(Exception):
            self._file.close()
        self._storage.remove(self._temporary)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
        elif self._state == "open":
            self.commit()


def _fsync_directory(path: str) -> None:
    # Makes the rename itself durable; not possible on every platform/filesystem.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def open_writer(
    uri: str | ObjectStoragePath,
    file_format: str,
    columns: Sequence[Column],
    *,
    conn_id: str | None = None,
    row_group_rows: int = PARQUET_ROW_GROUP_ROWS,
) -> RecordWriter:
    """Open a streaming, atomic writer of ``columns`` in ``file_format`` for ``uri``.

    Validates the format, the columns and the URI before creating anything, removes stale
    temporaries of the same target (see :func:`remove_stale_temporaries`), creates parent
    directories, and opens the temporary object.
    """
    require_file_format(file_format)
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CopernicaConfigError(f"Duplicate output columns: {', '.join(duplicates)}")
    if row_group_rows < 1:
        raise CopernicaConfigError(f"row_group_rows must be >= 1, got {row_group_rows!r}")
    storage = open_storage(uri, conn_id)
    storage.check()
    _remove_stale(storage, STALE_TEMPORARY_SECONDS)
    encoder = FORMATS[file_format].encoder(columns, row_group_rows)
    return RecordWriter(storage, file_format, encoder)
