"""Sandbox support for faithful copies: field changes between runs (schema drift) and churn on
the bare id lists (``profileids`` / ``subprofileids``).

Field changes are ground truth queryable from tests (:func:`field_names`) and undone by the
sandbox's reset (:func:`reset_fields`). Out of process: ``POST /_sandbox/fields`` with
``{"database": 7616, "add": [{"name": "loyalty", "type": "text"}], "remove": ["city"]}``
(or ``"collection": id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.sandbox.data import GENERATORS, _envelope, _field_defs

if TYPE_CHECKING:
    from airflow_provider_copernica.sandbox.data import SandboxData

# Copernica field type -> the sandbox value generator a new field of that type gets
_KIND_OF_TYPE = {"text": "company", "integer": "age", "float": "score", "date": "birthdate"}
_ORIGINAL = "_faithful_copy_original_fields"


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
            items += _field_defs([(name, ftype, kind)], ident)
        envelope.update(_envelope(items))
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
            envelope.update(_envelope(items))
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
