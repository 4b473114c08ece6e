"""Sandbox support for faithful copies: field changes between runs (schema drift), churn on
the bare id lists (``profileids`` / ``subprofileids``), and the ground truth of each.

Ground truth queryable from tests, like ``SandboxData.expected_ids`` (which answers the
names in :data:`DATASETS` through :func:`expected_ids`):

- snapshots and id lists: the live ids now (:func:`expected_ids`);
- deletions: the ids listed at one wall-clock instant and gone at a later one, whether
  removed, deleted or churned in between (:func:`vanished_ids`);
- late events: records added after seeding whose instant is in an interval (:func:`late_ids`);
- field changes: :func:`field_names`, and what changed since seeding (:func:`field_changes`).

Field changes are undone by the sandbox's reset (:func:`reset_fields`). Out of process:
``POST /_sandbox/fields`` with
``{"database": 7616, "add": [{"name": "loyalty", "type": "text"}], "remove": ["city"]}``
(or ``"collection": id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.sandbox.specs import GENERATORS, field_defs, list_envelope
from airflow_provider_copernica.sandbox.timeutil import utc_epoch

if TYPE_CHECKING:
    from airflow_provider_copernica.sandbox.data import SandboxData

# Copernica field type -> the sandbox value generator a new field of that type gets
_KIND_OF_TYPE = {"text": "company", "integer": "age", "float": "score", "date": "birthdate"}
_ORIGINAL = "_faithful_copy_original_fields"
# faithful-copy dataset -> the sandbox dataset whose records it lists
_RECORDS = {
    "profiles_snapshot": "profiles",
    "profile_ids": "profiles",
    "profile_deletions": "profiles",
    "subprofiles_snapshot": "subprofiles",
    "subprofile_ids": "subprofiles",
    "subprofile_deletions": "subprofiles",
}
DATASETS = tuple(_RECORDS)
Instant = datetime | date | str | float | int


def _owner(data: SandboxData, database: int | None, collection: int | None) -> tuple[Any, dict]:
    if database is not None:
        table = data.profile_table(database)
        meta = data.database(database)
    else:
        table = data.subprofile_table(collection or 0)
        meta = data.collection_meta.get(int(collection or 0))
    if table is None or meta is None:
        raise KeyError(f"no database {database}" if database else f"no collection {collection}")
    return table, meta["fields"]


def _remember(data: SandboxData, table: Any, envelope: dict) -> None:
    saved = data.__dict__.setdefault(_ORIGINAL, {})
    if id(table) not in saved:
        saved[id(table)] = (
            table,
            envelope,
            dict(table.field_types),
            dict(table.kinds),
            list(table.generators),
            list(envelope["data"]),
        )


def change_fields(
    data: SandboxData,
    *,
    database: int | None = None,
    collection: int | None = None,
    add: Iterable[Mapping[str, str]] = (),
    remove: Iterable[str] = (),
) -> list[str]:
    """Add fields (``{"name", "type"}``; type text/integer/float/date) to, or remove fields
    from, a database (or collection); existing records show the new field at once. Returns
    the field names after the change."""
    with data.lock:
        table, envelope = _owner(data, database, collection)
        _remember(data, table, envelope)
        items = list(envelope["data"])
        for name in remove:
            if name not in table.field_types:
                raise KeyError(f"no field {name!r}")
            del table.field_types[name], table.kinds[name]
            table.generators = [g for g in table.generators if g[0] != name]
            items = [f for f in items if f["name"] != name]
        for spec in add:
            name, ftype = str(spec["name"]), str(spec.get("type", "text"))
            if ftype not in _KIND_OF_TYPE:
                raise KeyError(f"field type {ftype!r}; valid: {', '.join(_KIND_OF_TYPE)}")
            kind = _KIND_OF_TYPE[ftype]
            table.field_types[name], table.kinds[name] = ftype, kind
            table.generators.append((name, GENERATORS[kind]))
            ident = max((int(f["ID"]) for f in items), default=20000) + 1
            items += field_defs([(name, ftype, kind)], ident)
        envelope.update(list_envelope(items))
        table.touch()
        return [name for name, _ in table.generators]


def field_names(
    data: SandboxData, *, database: int | None = None, collection: int | None = None
) -> list[str]:
    """Ground truth: the field names a database's (collection's) field list shows now."""
    with data.lock:
        _, envelope = _owner(data, database, collection)
        return [str(f["name"]) for f in envelope["data"]]


def reset_fields(data: SandboxData) -> None:
    """Undo every :func:`change_fields` (the sandbox's reset calls this)."""
    with data.lock:
        for table, envelope, types, kinds, generators, items in data.__dict__.pop(
            _ORIGINAL, {}
        ).values():
            table.field_types, table.kinds, table.generators = types, kinds, generators
            envelope.update(list_envelope(items))
            table.touch()


def admin_fields(data: SandboxData, wanted: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /_sandbox/fields``: the body's change, answered with the fields after it."""
    database, collection = wanted.get("database"), wanted.get("collection")
    names = change_fields(
        data,
        database=int(database) if database is not None else None,
        collection=int(collection) if collection is not None else None,
        add=wanted.get("add", []),
        remove=wanted.get("remove", []),
    )
    return {"fields": names}


# -- ground truth ---------------------------------------------------------------------------


def _epoch(moment: Instant | None) -> float:
    if moment is None:
        import time

        return time.time()
    if isinstance(moment, int | float):
        return float(moment)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.timestamp()  # to the microsecond: mutations and runs are close
    return float(utc_epoch(moment))


def expected_ids(
    data: SandboxData,
    dataset: str,
    start: Instant | None = None,
    end: Instant | None = None,
    **options: Any,
) -> list[int]:
    """Ids a correct extraction of a faithful-copy dataset returns, ascending.

    ``*_snapshot`` and ``*_ids``: every live (sub)profile now (the window only names the
    file). ``*_deletions``: :func:`vanished_ids` between the wall-clock instants ``start``
    (when the previous id snapshot was taken) and ``end`` (when this one is; default now)."""
    records = _RECORDS[dataset]
    if dataset.endswith("_deletions"):
        return vanished_ids(data, records, start, end, **options)
    with data.lock:
        table = data.table(records, **options)
        return sorted(table.ids[i] for i in table.alive())


def vanished_ids(
    data: SandboxData,
    dataset: str,
    since: Instant | None,
    until: Instant | None = None,
    **options: Any,
) -> list[int]:
    """Ids of ``dataset`` (profiles or subprofiles) listed at wall-clock ``since`` and no
    longer listed at ``until`` (default now): removed (``remove_record``, a profile's
    subprofiles with it), deleted, or churned away in between. What a deletions run observing
    at ``until`` reports against an id snapshot taken at ``since``."""
    lo, hi = _epoch(since), _epoch(until)
    with data.lock:
        table = data.table(dataset, **options)

        def mine(m: Mapping[str, Any]) -> bool:
            if "table" in m:
                return m["table"] == table.name
            return data.table(m["dataset"], **m["options"]) is table

        gone: set[int] = set()
        born: set[int] = set()  # not listed at ``since``
        for m in data.mutations:
            wall = m.get("wall", 0.0)
            if wall < lo:
                continue
            if m["op"] == "churn" and mine(m):
                born.add(m["inserted"])
            if m["op"] == "insert" and mine(m):
                born.update(m["ids"])
            if not wall < hi:
                continue
            if m["op"] == "churn" and mine(m):
                gone.add(m["deleted"])
            elif m["op"] in ("remove", "delete") and mine(m):
                gone.update(m["ids"])
            elif m["op"] == "remove" and dataset == "subprofiles":
                gone.update(i for i in m["subprofiles"] if table.index_of(i) is not None)
        return sorted(gone - born)


def late_ids(
    data: SandboxData, dataset: str, start: Instant, end: Instant, **options: Any
) -> list[int]:
    """Late data: ids of records added after seeding (``add_records``) whose instant is in
    ``[start, end)`` UTC, still present. They count in ``expected_ids`` too; this names
    which of an interval's ids arrived after it was first extracted."""
    lo, hi = _epoch(start), _epoch(end)
    with data.lock:
        table = data.table(dataset, **options)
        alive = set(table.alive())
        added = [
            ident
            for m in data.mutations
            if m["op"] == "insert" and data.table(m["dataset"], **m["options"]) is table
            for ident in m["ids"]
        ]
        hits = []
        for ident in added:
            index = table.index_of(ident)
            if index is not None and index in alive and lo <= table.ts[index] < hi:
                hits.append(ident)
        return sorted(hits)


def field_changes(
    data: SandboxData, *, database: int | None = None, collection: int | None = None
) -> dict[str, list[str]]:
    """Fields added to, removed from, and retyped in a database (collection) since seeding."""
    with data.lock:
        table, envelope = _owner(data, database, collection)
        saved = data.__dict__.get(_ORIGINAL, {}).get(id(table))
        before = {str(f["name"]): f.get("type") for f in (saved[5] if saved else envelope["data"])}
        now = {str(f["name"]): f.get("type") for f in envelope["data"]}
    return {
        "added": [n for n in now if n not in before],
        "removed": [n for n in before if n not in now],
        "retyped": [n for n in now if n in before and now[n] != before[n]],
    }
