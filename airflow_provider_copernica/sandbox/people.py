"""The sandbox's people: databases, their fields, interests and collections, and the seeded
profiles and subprofiles, with their endpoints.

Profiles and subprofiles are rendered on demand from compact per-row random numbers
(:class:`PersonTable`), so 500k of them stay cheap. About 2% are removed some time after
their last change: they vanish from lists and totals, ``profile/{id}`` still shows them with
empty fields and ``removed`` set. Field values come from :data:`GENERATORS`; the database
catalogue (:data:`DATABASE_SPECS`) is data, not code paths.
"""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any

from airflow_provider_copernica.sandbox.protocol import (
    HTTPError,
    Listing,
    Query,
    Route,
    dumps,
    page_of,
)
from airflow_provider_copernica.sandbox.specs import (
    DATABASE_SPECS,
    GENERATORS,
    MODIFIED_FIELD,
    PROFILE_ID_BASE,
    SUBPROFILE_ID_BASE,
    field_defs,
    list_envelope,
    random_words,
)
from airflow_provider_copernica.sandbox.tables import Table, select
from airflow_provider_copernica.sandbox.timeutil import DAY, fmt_local, fmt_naive, local_naive

SNAPSHOT_DATASETS = ("databases", "database_fields", "collections", "interests")


class PersonTable(Table):
    """Profiles or subprofiles rendered on demand from compact per-row random numbers."""

    def setup(
        self,
        *,
        seed: int,
        fields: Sequence[tuple[str, str, str]],
        owner_key: str,
        owner_id: str,
        parents: array | None,
        interests: Sequence[str] | None,
    ) -> None:
        self.seed = seed
        self.kinds = {name: kind for name, _, kind in fields}
        self.generators = [(name, GENERATORS[kind]) for name, _, kind in fields]
        self.owner_key, self.owner_id = owner_key, owner_id
        self.parents = parents  # subprofiles: profile id per row
        self.interest_names = list(interests) if interests is not None else None
        self.created = array("q")
        self.removed_at = array("q")  # 0 = not removed, else UTC epoch of removal
        self.rand = array("I")  # per-row 32-bit random driving field values
        self.src = array("l")  # row whose values a row shows (inserted copies point back)
        self.renderer = self._render
        self.field_getter = self._field
        self.code_getter = self._secret
        self.field_types = {name: ftype for name, ftype, _ in fields}
        self.special_fields = ("id", "code", "modified")
        self._alive: tuple[int, list[int]] | None = None
        self._removed_base = array("q")

    def alive(self) -> Sequence[int]:
        """Rows the lists show: removed (sub)profiles vanish from lists and totals."""
        if self._alive is None or self._alive[0] != self.version:
            removed, deleted = self.removed_at, self.deleted
            rows = [i for i in range(len(self.ids)) if not removed[i] and i not in deleted]
            self._alive = (self.version, rows)
        return self._alive[1]

    def remove(self, index: int, moment: int) -> None:
        """Remove a record at ``moment`` (UTC epoch); its ``modified`` stays as it was."""
        self.removed_at[index] = moment
        self.touch()

    def checkpoint(self) -> None:
        self._removed_base = array("q", self.removed_at)
        super().checkpoint()

    def rollback(self) -> bool:
        base = self._base if self._base is not None else len(self.ids)
        for seq in (self.created, self.removed_at, self.src):
            del seq[base:]
        changed = self.removed_at != self._removed_base
        if changed:
            self.removed_at[:] = self._removed_base
            self.touch()
        return super().rollback() or changed

    def _secret(self, i: int) -> str:
        # a stable 32-hex "secret" per record; cheaper than a real hash and just as opaque
        mixed = (self.ids[i] * 0x9E3779B97F4A7C15 + self.seed) % (1 << 64)
        return f"{mixed:016x}{mixed * 0xC2B2AE3D27D4EB4F % (1 << 64):016x}"

    def _field(self, i: int, name: str) -> str | None:
        if self.removed_at[i]:
            return None
        src = self.src[i]
        return GENERATORS[self.kinds[name]](self.rand[src], self.ids[src])

    def _render(self, i: int, dataonly: bool) -> dict[str, Any]:
        removed = self.removed_at[i]
        src = self.src[i]
        if removed:  # the live API: every field "" and `removed` set to the removal time
            values: dict[str, str | None] = {name: "" for name, _ in self.generators}
        else:
            r, ident = self.rand[src], self.ids[src]
            values = {name: gen(r, ident) for name, gen in self.generators}
        row: dict[str, Any] = {"ID": str(self.ids[i]), "fields": values}
        if self.interest_names is not None:
            bits = 0 if removed else self.rand[src] >> 24
            row["interests"] = [n for b, n in enumerate(self.interest_names) if bits >> b & 1]
        else:
            row["profile"] = str(self.parents[src]) if self.parents is not None else None
        row[self.owner_key] = self.owner_id
        row["modified"] = fmt_naive(self.lts[i])
        if dataonly:
            return row
        row["secret"] = self._secret(i)
        row["created"] = fmt_local(self.created[i])
        row["removed"] = fmt_local(removed) if removed else False
        return row


class People:
    """Databases (with their fields, interests and collections), profiles and subprofiles,
    generated from ``rng`` over ``[span_start, span_end)`` (UTC epochs); ``special`` are the
    instants (local midnights, DST edges) some records are pinned on."""

    def __init__(
        self,
        rng: random.Random,
        *,
        seed: int,
        profiles: int,
        span: tuple[int, int],
        special: Sequence[int],
    ) -> None:
        self.seed = seed
        self.span_start, self.span_end = span
        self.special = special
        self.modified_field: str | None = None  # the modified_field switch
        self.databases: list[dict[str, Any]] = []
        self.profile_tables: dict[int, PersonTable] = {}
        self.subprofile_tables: dict[int, PersonTable] = {}
        self.collection_meta: dict[int, dict[str, Any]] = {}
        field_id = 20989
        for spec in DATABASE_SPECS:
            fields = field_defs(spec["fields"], field_id)
            field_id += 100
            interests = [
                {"ID": str(3053 + n), "name": name, "group": group}
                for n, (name, group) in enumerate(spec["interests"])
            ]
            collections = []
            for coll in spec["collections"]:
                meta = {
                    "ID": str(coll["id"]),
                    "name": coll["name"],
                    "database": str(spec["id"]),
                    "fields": list_envelope(field_defs(coll["fields"], field_id)),
                    "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
                }
                field_id += 100
                collections.append(meta)
                self.collection_meta[coll["id"]] = meta
            count = round(profiles * spec["share"])
            if spec["share"] and count < 20:
                count = 20
            table = self._people(
                rng,
                f"profiles:{spec['id']}",
                count,
                PROFILE_ID_BASE[spec["id"]],
                spec["fields"],
                "database",
                str(spec["id"]),
                None,
                [name for name, _ in spec["interests"]],
            )
            self.profile_tables[spec["id"]] = table
            for coll in spec["collections"]:
                n_sub = round(count * coll["per_profile"]) if count else 0
                owners = table.ids
                parents = array("q", [owners[w % count] for w in random_words(rng, n_sub)])
                sub = self._people(
                    rng,
                    f"subprofiles:{coll['id']}",
                    n_sub,
                    SUBPROFILE_ID_BASE[coll["id"]],
                    coll["fields"],
                    "collection",
                    str(coll["id"]),
                    parents,
                    None,
                )
                self.subprofile_tables[coll["id"]] = sub
            self.databases.append(
                {
                    "ID": str(spec["id"]),
                    "name": spec["name"],
                    "description": spec["description"],
                    "archived": bool(spec.get("archived", False)),
                    "created": spec["created"],
                    "fields": list_envelope(fields),
                    "interests": list_envelope(interests),
                    "collections": list_envelope(collections),
                    "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
                }
            )

    def _people(
        self,
        rng: random.Random,
        name: str,
        count: int,
        id_base: int,
        fields: Sequence[tuple[str, str, str]],
        owner_key: str,
        owner_id: str,
        parents: array | None,
        interests: Sequence[str] | None,
    ) -> PersonTable:
        table = PersonTable(name=name, ts_key="modified")
        table.setup(
            seed=self.seed,
            fields=fields,
            owner_key=owner_key,
            owner_id=owner_id,
            parents=parents,
            interests=interests,
        )
        span = self.span_end - self.span_start
        gaps = rng.randbytes(count)
        rand = random_words(rng, count)
        offsets = random_words(rng, count)
        first = self.span_start
        moments = [first + v % span for v in offsets]
        for position, moment in zip(
            rng.sample(range(count), min(count, len(self.special))),
            self.special,
            strict=False,
        ):
            moments[position] = moment
        steps = [1 + g % 3 for g in gaps]
        table.ids = array("q", accumulate(steps, initial=id_base))[1:]
        table.ts = array("q", moments)
        table.lts = array("q", map(local_naive, moments))
        window = 400 * DAY
        table.created = array("q", [m - r % window for m, r in zip(moments, rand, strict=True)])
        # ~2% of records are removed some time after their last change (which removing does
        # not move): they vanish from lists and totals, profile/{id} still shows them
        last = self.span_end - 1
        table.removed_at = array(
            "q",
            [
                min(m + r % (30 * DAY) + 1, last) if g >= 250 else 0
                for m, g, r in zip(moments, gaps, rand, strict=True)
            ],
        )
        table.src = array("l", range(count))
        table.rand = rand
        return table

    def tables(self) -> list[PersonTable]:
        return [*self.profile_tables.values(), *self.subprofile_tables.values()]

    def profile_table(self, database_id: int | str) -> PersonTable | None:
        try:
            return self.profile_tables.get(int(database_id))
        except ValueError:
            return None

    def subprofile_table(self, collection_id: int | str) -> PersonTable | None:
        try:
            return self.subprofile_tables.get(int(collection_id))
        except ValueError:
            return None

    def database(self, database_id: int | str) -> dict[str, Any] | None:
        return next((d for d in self.databases if d["ID"] == str(database_id)), None)

    def find(self, kind: str, ident: int | str) -> tuple[PersonTable, int] | None:
        """``kind`` profile/subprofile: its table and row for ``profile/{id}``, removed ones
        included."""
        tables = self.profile_tables if kind == "profile" else self.subprofile_tables
        try:
            number = int(ident)
        except ValueError:
            return None
        for table in tables.values():
            index = table.index_of(number)
            if index is not None:
                return table, index
        return None

    def remove(self, table: PersonTable, index: int, moment: int) -> list[int]:
        """Remove a record at ``moment``; a profile takes its subprofiles with it. Returns
        the ids of the removed subprofiles."""
        table.remove(index, moment)
        cascade: list[int] = []
        if table.parents is None:  # a profile
            ident = table.ids[index]
            for sub in self.subprofile_tables.values():
                parents = sub.parents
                assert parents is not None
                hits = [i for i in sub.alive() if parents[sub.src[i]] == ident]
                for i in hits:
                    sub.removed_at[i] = moment
                if hits:
                    sub.touch()
                cascade += [sub.ids[i] for i in hits]
        return cascade

    def set_modified_field(self, name: str | None = "modified") -> None:
        """The ``modified_field`` switch: give every database and collection a field called
        ``name`` (``modified`` in any case; a datetime unrelated to the records' ``modified``
        property), or take it away again with None. On the live API such a field takes the
        property's place in ``fields[]`` filters."""
        if name == self.modified_field:
            return
        old, self.modified_field = self.modified_field, name
        _, ftype, kind = MODIFIED_FIELD
        for table in self.tables():
            if old is not None:
                del table.field_types[old], table.kinds[old]
                table.generators = [g for g in table.generators if g[0] != old]
            if name is not None:
                table.field_types[name] = ftype
                table.kinds[name] = kind
                table.generators.append((name, GENERATORS[kind]))
            table.touch()
        envelopes = [d["fields"] for d in self.databases]
        envelopes += [c["fields"] for c in self.collection_meta.values()]
        for envelope in envelopes:
            items = [f for f in envelope["data"] if f["name"] != old]
            if name is not None:
                ident = max((int(f["ID"]) for f in items), default=20000) + 1
                items += field_defs([(name, ftype, kind)], ident)
            envelope.update(list_envelope(items))

    # -- ground truth ----------------------------------------------------------------------

    def records(self, dataset: str, **options: Any) -> list[dict[str, Any]] | None:
        """Every record of a snapshot dataset served here (None: not one of them)."""
        if dataset == "databases":
            return list(self.databases)
        if dataset not in SNAPSHOT_DATASETS:
            return None
        db = self.database(options.get("database_id", 7616))
        key = {"database_fields": "fields"}.get(dataset, dataset)
        return list(db[key]["data"]) if db else []

    def expected_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """Snapshot datasets ignore the window: the ids of every record now."""
        records = self.records(dataset, **options)
        if records is None:
            return None
        return sorted(int(r["ID"]) for r in records)


def routes(people: People, listing: Listing) -> list[Route]:
    """The endpoints of databases, collections, profiles and subprofiles."""

    def profile_table(db: str) -> PersonTable:
        table = people.profile_table(database_of(people, db)["ID"])
        if table is None:
            raise HTTPError(404, f"no database {db!r}")
        return table

    def subprofile_table(coll: str) -> PersonTable:
        table = people.subprofile_table(coll)
        if table is None:
            raise HTTPError(404, f"no collection {coll!r}")
        return table

    def databases(query: Query) -> Any:
        return page_of(people.databases, query)

    def database(query: Query, db: str) -> Any:
        return database_of(people, db)

    def db_list(query: Query, db: str, what: str) -> Any:
        return page_of(database_of(people, db)[what]["data"], query)

    def profiles(query: Query, db: str) -> Any:
        return people_page(profile_table(db), query, listing)

    def subprofiles(query: Query, coll: str) -> Any:
        return people_page(subprofile_table(coll), query, listing)

    def ids(table: Table, query: Query) -> Any:
        # paging parameters only (rest-get-database-profileids.md): start, limit (default
        # 100, at most 1000), ids ascending
        start, limit, _ = query.paging()
        if listing.faults.ids_unpaged:  # subprofileids is documented without parameters
            start, limit = 0, len(table.ids)
        rows = table.alive()[start : start + limit]
        body = [table.ids[i] for i in rows]
        after = listing.after_page(table, rows)
        return (dumps(body), after) if after is not None else body

    def profile(query: Query, ident: str) -> Any:
        found = people.find("profile", ident)
        if found is None:
            raise HTTPError(400, "No entity with supplied ID")  # the live API's answer
        return found[0].render(found[1])

    def subprofile(query: Query, ident: str) -> Any:
        found = people.find("subprofile", ident)
        if found is None:
            raise HTTPError(400, "No subprofile with supplied ID")
        return found[0].render(found[1])

    def profile_ids(query: Query, db: str) -> Any:
        return ids(profile_table(db), query)

    def subprofile_ids(query: Query, coll: str) -> Any:
        return ids(subprofile_table(coll), query)

    def collection(query: Query, coll: str) -> Any:
        return collection_of(people, coll)

    def collection_fields(query: Query, coll: str) -> Any:
        return page_of(collection_of(people, coll)["fields"]["data"], query)

    return [
        (r"databases", databases),
        (r"database/(?P<db>[^/]+)", database),
        (r"database/(?P<db>[^/]+)/(?P<what>fields|interests|collections)", db_list),
        (r"database/(?P<db>[^/]+)/profiles", profiles),
        (r"database/(?P<db>[^/]+)/profileids", profile_ids),
        (r"profile/(?P<ident>[^/]+)", profile),
        (r"subprofile/(?P<ident>[^/]+)", subprofile),
        (r"collection/(?P<coll>[^/]+)", collection),
        (r"collection/(?P<coll>[^/]+)/fields", collection_fields),
        (r"collection/(?P<coll>[^/]+)/subprofiles", subprofiles),
        (r"collection/(?P<coll>[^/]+)/subprofileids", subprofile_ids),
    ]


def database_of(people: People, db: str) -> dict[str, Any]:
    """The database named by id or name in a path, or a 404."""
    found = people.database(db) or next((d for d in people.databases if d["name"] == db), None)
    if found is None:
        raise HTTPError(404, f"no database {db!r}")
    return found


def collection_of(people: People, coll: str) -> dict[str, Any]:
    """The collection named by id in a path, or a 404."""
    try:
        meta = people.collection_meta.get(int(coll))
    except ValueError:
        meta = None
    if meta is None:
        raise HTTPError(404, f"no collection {coll!r}")
    return meta


def people_page(
    table: Table,
    query: Query,
    listing: Listing,
    extra: Sequence[tuple[str, Callable[[int], bool]]] = (),
) -> Any:
    """A page of (sub)profiles: ``fields[]`` filters, ordering, ``dataonly``, the ``churn``
    fault after the page (also the members of views and miniviews)."""
    start, limit, with_total = query.paging()
    selection = select(
        table,
        query.conditions(),
        extra=extra,
        orderby=query.get("orderby") or "id",
        order=(query.get("order") or "asc").lower(),
        hidden_from=listing.hidden(),
    )
    dataonly = query.boolean("dataonly", False)
    rows = selection.rows[start : start + limit]
    head: dict[str, Any] = {"start": start, "limit": limit, "count": len(rows)}
    if with_total:
        head["total"] = selection.total
    items = b",".join([table.render_json(i, dataonly) for i in rows])
    body = dumps(head)[:-1] + b',"data":[' + items + b"]}"
    after = listing.after_page(table, rows)
    return (body, after) if after is not None else body
