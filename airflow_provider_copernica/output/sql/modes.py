"""Write modes: how a run's rows change the table. One class per mode in :data:`MODES`.

Every mode runs inside the load's one transaction (:mod:`.load`). The ``direct`` modes
(replace_interval, truncate_insert, insert) delete what they replace first and the rows then
go straight into the table; the others run standard SQL over a staging table once every row
is in it (PostgreSQL's ``ON CONFLICT`` where concurrent runs would otherwise collide on a
key).

=================  ==========================================================================
``replace_interval`` delete the rows of the run's interval, insert the new ones (windowed)
``upsert``         by the dataset's key; a row replaces the stored one only when its version
                   (``modified``) is not older
``truncate_insert`` the table becomes exactly this run's rows (DELETE + INSERT, one transaction)
``insert``         append as is (the table gets no primary key)
``insert_ignore``  insert the rows whose key is not stored yet; misfits go to
                   ``<table>__rejected``
``delete``         a ``*_deletions`` dataset: delete those ids from the records' table
``soft_delete``    a ``*_deletions`` dataset: set ``_deleted_at`` on those ids
``history``        every version with ``_valid_from``/``_valid_to``/``_is_current``
=================  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from airflow_provider_copernica.catalog.schema import Column
from airflow_provider_copernica.exceptions import CopernicaConfigError

if TYPE_CHECKING:
    from airflow_provider_copernica.catalog.datasets import Dataset
    from airflow_provider_copernica.output.sql.load import TableLoad

VALID_FROM = Column("_valid_from", "timestamp")
VALID_TO = Column("_valid_to", "timestamp")
IS_CURRENT = Column("_is_current", "bool")
DELETED_AT = Column("_deleted_at", "timestamp")
INTERVAL_COLUMNS = ("_interval_start", "_interval_end")


def _column_names(entry: Dataset) -> set[str]:
    if isinstance(entry.columns, Mapping):
        return {c.name for cols in entry.columns.values() for c in cols}
    return {c.name for c in entry.columns}


def version_column(entry: Dataset) -> str | None:
    """The column whose newer value wins (``modified`` of profiles and subprofiles)."""
    return "modified" if "modified" in _column_names(entry) else None


class WriteMode:
    """One write mode. Subclasses set :attr:`name` and implement :meth:`apply`."""

    name: ClassVar[str]
    summary: ClassVar[str]
    rejects: ClassVar[bool] = False
    """Rows that do not fit a column go to ``<table>__rejected`` instead of failing the run."""
    deletions: ClassVar[bool] = False
    """Applies a ``*_deletions`` dataset to an existing records' table."""
    direct: ClassVar[bool] = False
    """The rows go straight into the table after :meth:`clear`, in the same transaction
    (no staging table: the database writes each row once)."""

    def refusal(self, entry: Dataset) -> str | None:
        """Why this mode does not fit ``entry`` (None: it fits)."""
        if entry.deletions_of is not None and not self.deletions:
            return "a deletions dataset is applied with delete, soft_delete or history"
        return None

    def primary_key(self, entry: Dataset) -> tuple[str, ...]:
        """The primary key of a table this mode creates."""
        if entry.snapshot or entry.timestamp_field is not None:
            return (entry.key,)
        return (entry.key, "_interval_start")  # one row per key and interval

    def extra_metadata(self, entry: Dataset) -> tuple[str, ...]:
        """Metadata columns this mode needs in every row."""
        if entry.snapshot or entry.timestamp_field is not None:
            return ()
        return INTERVAL_COLUMNS

    def table_columns(self, columns: Sequence[Column]) -> list[Column]:
        """The table's columns for these data (+ metadata) columns."""
        return list(columns)

    def required_columns(self, entry: Dataset) -> tuple[str, ...]:
        """Columns the mode's SQL reads, so ``fields`` must keep them."""
        return ()

    def clear(self, load: TableLoad) -> None:
        """A direct mode's statement before the rows are inserted."""

    def apply(self, load: TableLoad) -> None:
        """After every row is staged (or, for a direct mode, inserted): the mode's SQL."""
        if not self.direct:
            raise NotImplementedError


class ReplaceInterval(WriteMode):
    name = "replace_interval"
    summary = "delete the rows of the run's interval, insert the new ones"
    direct = True

    def refusal(self, entry: Dataset) -> str | None:
        if entry.snapshot:
            return "it is a snapshot (no interval): use truncate_insert"
        return super().refusal(entry)

    def required_columns(self, entry: Dataset) -> tuple[str, ...]:
        return (entry.timestamp_field,) if entry.timestamp_field else INTERVAL_COLUMNS

    def clear(self, load: TableLoad) -> None:
        window = load.window
        assert window is not None
        entry = load.entry
        d = load.dialect
        if entry.timestamp_field is not None:
            ts = d.quote(entry.timestamp_field)
            where = f"{ts} >= ? AND {ts} < ?"
        else:  # rows of every interval overlapping this one
            where = f"{d.quote('_interval_start')} < ? AND {d.quote('_interval_end')} > ?"
        bounds = (d.param(window.start), d.param(window.end))
        if entry.timestamp_field is None:
            bounds = (d.param(window.end), d.param(window.start))
        load.execute(f"DELETE FROM {load.target} WHERE {where}", bounds, count="deleted")


class _ByKey(WriteMode):
    """Modes that keep one row per key (the table's primary key is the dataset's key)."""

    def primary_key(self, entry: Dataset) -> tuple[str, ...]:
        return (entry.key,)

    def extra_metadata(self, entry: Dataset) -> tuple[str, ...]:
        return ()


class Upsert(_ByKey):
    name = "upsert"
    summary = "insert or replace by key; a stored row is replaced only by a not-older one"

    def apply(self, load: TableLoad) -> None:
        d, key, target = load.dialect, load.q(load.key), load.target
        version = version_column(load.entry)
        columns = load.columns
        if d.upsert_native:
            others = [c for c in columns if c != load.key]
            assign = ", ".join(f"{load.q(c)} = EXCLUDED.{load.q(c)}" for c in others)
            guard = ""
            if version is not None:
                v = load.q(version)
                guard = f" WHERE {target}.{v} IS NULL OR {target}.{v} <= EXCLUDED.{v}"
            action = f"DO UPDATE SET {assign}{guard}" if others else "DO NOTHING"
            load.execute(
                f"INSERT INTO {target} ({load.names}) SELECT {load.names} FROM {load.stage} "
                f"ON CONFLICT ({key}) {action}",
                count="upserted",
            )
            return
        newer = ""
        if version is not None:
            v = load.q(version)
            newer = f" AND ({load.bare}.{v} IS NULL OR s.{v} >= {load.bare}.{v})"
        load.execute(
            f"DELETE FROM {target} WHERE EXISTS (SELECT 1 FROM {load.stage} s "
            f"WHERE s.{key} = {load.bare}.{key}{newer})",
            count="replaced",
        )
        load.execute(
            f"INSERT INTO {target} ({load.names}) SELECT {load.names_of('s')} FROM "
            f"{load.stage} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{key} = s.{key})",
            count="inserted",
        )


class TruncateInsert(WriteMode):
    name = "truncate_insert"
    summary = "replace the whole table with this run's rows, atomically"
    direct = True

    def clear(self, load: TableLoad) -> None:
        # DELETE, not TRUNCATE: in one transaction, every reader sees the old rows or the new.
        where, params = load.in_range()
        load.execute(f"DELETE FROM {load.target} WHERE 1 = 1{where}", params, count="deleted")


class Insert(WriteMode):
    name = "insert"
    summary = "append the rows as they are"
    direct = True

    def primary_key(self, entry: Dataset) -> tuple[str, ...]:
        return ()


class InsertIgnore(_ByKey):
    name = "insert_ignore"
    summary = "insert rows whose key is new; misfits go to <table>__rejected"
    rejects = True

    def apply(self, load: TableLoad) -> None:
        key, target = load.q(load.key), load.target
        if load.dialect.upsert_native:
            load.execute(
                f"INSERT INTO {target} ({load.names}) SELECT {load.names} FROM {load.stage} "
                f"ON CONFLICT ({key}) DO NOTHING",
                count="inserted",
            )
            return
        load.execute(
            f"INSERT INTO {target} ({load.names}) SELECT {load.names_of('s')} FROM "
            f"{load.stage} s WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{key} = s.{key})",
            count="inserted",
        )


class _Deletions(WriteMode):
    deletions = True

    def refusal(self, entry: Dataset) -> str | None:
        if entry.deletions_of is None:
            return "it applies a *_deletions dataset (profile_deletions, subprofile_deletions)"
        return None

    def _matches(self, load: TableLoad) -> str:
        return (
            f"EXISTS (SELECT 1 FROM {load.stage} s WHERE s.{load.q('id')} = "
            f"{load.bare}.{load.q(load.key)})"
        )


class Delete(_Deletions):
    name = "delete"
    summary = "delete the rows of the ids a *_deletions dataset reports"

    def apply(self, load: TableLoad) -> None:
        load.execute(f"DELETE FROM {load.target} WHERE {self._matches(load)}", count="deleted")


class SoftDelete(_Deletions):
    name = "soft_delete"
    summary = "set _deleted_at on the rows of the ids a *_deletions dataset reports"

    def apply(self, load: TableLoad) -> None:
        at = load.q(DELETED_AT.name)
        observed = (
            f"(SELECT s.{load.q('observed_at')} FROM {load.stage} s "
            f"WHERE s.{load.q('id')} = {load.bare}.{load.q(load.key)})"
        )
        load.execute(
            f"UPDATE {load.target} SET {at} = {observed} WHERE {at} IS NULL AND "
            f"{self._matches(load)}",
            count="soft_deleted",
        )


class History(WriteMode):
    name = "history"
    summary = "keep every version: _valid_from, _valid_to, _is_current"
    deletions = True

    def refusal(self, entry: Dataset) -> str | None:
        if entry.deletions_of is not None:
            return None
        if version_column(entry) is None:
            return (
                "it needs records with a 'modified' time: profiles, subprofiles and their "
                "snapshots (and their *_deletions to close removed ones)"
            )
        return None

    def primary_key(self, entry: Dataset) -> tuple[str, ...]:
        return (entry.key, VALID_FROM.name)

    def extra_metadata(self, entry: Dataset) -> tuple[str, ...]:
        return ()

    def table_columns(self, columns: Sequence[Column]) -> list[Column]:
        return [*columns, VALID_FROM, VALID_TO, IS_CURRENT]

    def required_columns(self, entry: Dataset) -> tuple[str, ...]:
        version = version_column(entry)
        return (version,) if entry.deletions_of is None and version else ()

    def apply(self, load: TableLoad) -> None:
        key, bare, target, stage = load.q(load.key), load.bare, load.target, load.stage
        start, end, current = (load.q(c.name) for c in (VALID_FROM, VALID_TO, IS_CURRENT))
        if load.entry.deletions_of is not None:  # close the current version of removed ids
            load.execute(
                f"UPDATE {target} SET {end} = (SELECT s.{load.q('observed_at')} FROM {stage} s "
                f"WHERE s.{load.q('id')} = {bare}.{key}), {current} = FALSE WHERE {current} "
                f"AND EXISTS (SELECT 1 FROM {stage} s WHERE s.{load.q('id')} = {bare}.{key})",
                count="closed",
            )
            return
        v = load.q(version_column(load.entry) or "modified")
        load.execute(
            f"INSERT INTO {target} ({load.names}, {start}, {end}, {current}) "
            f"SELECT {load.names_of('s')}, s.{v}, NULL, TRUE FROM {stage} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {target} t WHERE t.{key} = s.{key} AND t.{start} = s.{v})",
            count="versions",
        )
        later = f"FROM {target} n WHERE n.{key} = {bare}.{key} AND n.{start} > {bare}.{start}"
        load.execute(
            f"UPDATE {target} SET {end} = (SELECT MIN(n.{start}) {later}), {current} = FALSE "
            f"WHERE EXISTS (SELECT 1 FROM {stage} s WHERE s.{key} = {bare}.{key}) "
            f"AND EXISTS (SELECT 1 {later})"
        )
        if load.entry.snapshot:  # a record absent from the snapshot was removed
            where, params = load.in_range()
            load.execute(
                f"UPDATE {target} SET {end} = ?, {current} = FALSE WHERE {current} AND NOT "
                f"EXISTS (SELECT 1 FROM {stage} s WHERE s.{key} = {bare}.{key}){where}",
                (load.dialect.param(load.extracted_at), *params),
                count="closed",
            )


MODES: Mapping[str, WriteMode] = {
    mode.name: mode
    for mode in (
        ReplaceInterval(),
        Upsert(),
        TruncateInsert(),
        Insert(),
        InsertIgnore(),
        Delete(),
        SoftDelete(),
        History(),
    )
}


def default_write_mode(entry: Dataset) -> str:
    """The mode a dataset gets when none is given (README: "Loading into a database")."""
    if entry.deletions_of is not None:
        return "soft_delete"
    if entry.snapshot:
        return "truncate_insert"
    if version_column(entry) is not None:
        return "upsert"
    return "replace_interval"


def fitting_modes(entry: Dataset) -> list[str]:
    return [name for name, mode in MODES.items() if mode.refusal(entry) is None]


def check_write_mode(write_mode: object, entry: Dataset) -> WriteMode:
    """The mode named ``write_mode`` (None: the dataset's default) if it fits ``entry``."""
    name = default_write_mode(entry) if write_mode is None else write_mode
    mode = MODES.get(name) if isinstance(name, str) else None
    if mode is None:
        raise CopernicaConfigError(
            f"Unknown write_mode {write_mode!r}; valid write modes: {', '.join(MODES)}"
        )
    reason = mode.refusal(entry)
    if reason is not None:
        raise CopernicaConfigError(
            f"write_mode={name!r} does not fit {entry.name!r}: {reason}. Write modes that fit "
            f"{entry.name!r}: {', '.join(fitting_modes(entry))}"
        )
    return mode


__all__ = [
    "MODES",
    "WriteMode",
    "check_write_mode",
    "default_write_mode",
    "fitting_modes",
    "version_column",
]
