"""The sandbox's selections: views (of databases, nested) and miniviews (of collections),
their rules, members and endpoints.

Selections are predicates over the generated (sub)profiles, so their members follow every
mutation of the profile tables; a nested view's members are those of its parent that also
match its own rule. ``last-built`` times include the repeated autumn DST hour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_copernica.sandbox.people import (
    People,
    PersonTable,
    collection_of,
    database_of,
    people_page,
)
from airflow_provider_copernica.sandbox.protocol import HTTPError, Listing, Query, Route, page_of
from airflow_provider_copernica.sandbox.timeutil import DAY, fmt_local

DATASETS = ("views", "miniviews", "view_profiles", "view_profile_ids", "miniview_subprofiles")
# (id, name, parent view id or None, field, comparison, value): a database's selections.
VIEW_SPECS: dict[int, list[tuple[int, str, int | None, str, str, str]]] = {
    7616: [
        (4184, "Netherlands", None, "country", "equals", "Netherlands"),
        (4185, "Dutch 40+", 4184, "age", "greater_equal", "40"),
        (4187, "Dutch 40+ newsletter", 4185, "newsletter", "equals", "yes"),
        (4186, "Amsterdam", 4184, "city", "equals", "Amsterdam"),
        (4190, "Belgium", None, "country", "equals", "Belgium"),
    ],
    7617: [(4200, "Acme", None, "company", "equals", "Acme BV")],
    7618: [],
}
MINIVIEW_SPECS: dict[int, list[tuple[int, str, str, str, str]]] = {
    6312: [
        (1525, "Shoes orders", "product", "equals", "Shoes"),
        (1526, "Big orders", "amount", "greater_equal", "250"),
    ],
    6313: [(1530, "Open tickets", "status", "equals", "open")],
    6320: [],
}


@dataclass(frozen=True)
class Selection:
    """One view or miniview: its API record, rule and owner table."""

    ident: int
    record: dict[str, Any]
    parent: int | None
    field: str
    comparison: str
    value: str
    owner: int  # database or collection id


def _matches(comparison: str, actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    if comparison == "equals":
        return actual == wanted
    return float(actual) >= float(wanted)


def _record(
    ident: int, name: str, rule: tuple[str, str, str], owner: dict[str, Any], built: int
) -> dict[str, Any]:
    """A view's or miniview's API record: ``owner`` says where it hangs."""
    field, comparison, value = rule
    return {
        "ID": str(ident),
        "name": name,
        "description": f"{field} {comparison} {value}",
        **owner,
        "last-built": fmt_local(built),
        "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
    }


class Selections:
    """The views and miniviews of the people's databases and collections."""

    def __init__(
        self, people: People, *, span_end: int, dst_changes: Sequence[tuple[int, str]]
    ) -> None:
        self.people = people
        autumn = [t for t, kind in dst_changes if kind == "autumn"]
        # one selection was last built in the repeated hour (02:30 local, first fold)
        built = [autumn[-1] - 1800] if autumn else []
        built += [span_end - DAY * (n + 1) + 3600 * n for n in range(12)]
        self.views: dict[int, Selection] = {}
        self.miniviews: dict[int, Selection] = {}

        def add(
            pool: dict[int, Selection],
            ident: int,
            name: str,
            parent: int | None,
            rule: tuple[str, str, str],
            owner: dict[str, Any],
            owner_id: int,
        ) -> None:
            moment = built[(len(self.views) + len(self.miniviews)) % len(built)]
            record = _record(ident, name, rule, owner, moment)
            pool[ident] = Selection(ident, record, parent, *rule, owner_id)

        for database, specs in VIEW_SPECS.items():
            for ident, name, parent, field, comparison, value in specs:
                children = any(p == ident for _, _, p, *_ in specs)
                owner = {
                    "parent-type": "view" if parent else "database",
                    "parent-id": str(parent or database),
                    "has-children": children,
                    "has-referred": False,
                    "has-rules": True,
                    "database": str(database),
                }
                add(self.views, ident, name, parent, (field, comparison, value), owner, database)
        for collection, mini_specs in MINIVIEW_SPECS.items():
            for ident, name, field, comparison, value in mini_specs:
                owner = {
                    "parent-type": "collection",
                    "parent-id": str(collection),
                    "collection": str(collection),
                }
                rule = (field, comparison, value)
                add(self.miniviews, ident, name, None, rule, owner, collection)

    def lineage(self, selection: Selection, pool: dict[int, Selection]) -> list[Selection]:
        chain = [selection]
        while chain[-1].parent is not None:
            chain.append(pool[chain[-1].parent])
        return chain

    def member_test(
        self, kind: str, selection: Selection
    ) -> tuple[PersonTable, Callable[[int], bool]]:
        """The owner table of a view/miniview and the row test of its members."""
        pool = self.views if kind == "view" else self.miniviews
        if kind == "view":
            table = self.people.profile_table(selection.owner)
        else:
            table = self.people.subprofile_table(selection.owner)
        assert table is not None
        chain = self.lineage(selection, pool)
        field_of = table.field_getter
        assert field_of is not None

        def test(i: int) -> bool:
            return all(_matches(s.comparison, field_of(i, s.field), s.value) for s in chain)

        return table, test

    def members(self, kind: str, ident: int) -> list[int]:
        selection = (self.views if kind == "view" else self.miniviews).get(ident)
        if selection is None:
            return []
        table, test = self.member_test(kind, selection)
        return [table.ids[i] for i in table.alive() if test(i)]

    def rules(self, selection: Selection, key: str) -> list[dict[str, Any]]:
        rule = 4000 + selection.ident
        return [
            {
                "ID": str(rule),
                "name": f"{selection.field} rule",
                key: str(selection.ident),
                "conditions": {
                    "start": 0,
                    "limit": 100,
                    "count": 1,
                    "total": 1,
                    "data": [
                        {
                            "ID": str(2000 + selection.ident),
                            "type": "Field",
                            "rule": str(rule),
                            "comparison": selection.comparison,
                            "field": {"name": selection.field},
                            "value": selection.value,
                            "other-field": False,
                            "numeric-comparison": selection.comparison != "equals",
                        }
                    ],
                },
                "inversed": False,
                "disabled": False,
            }
        ]

    # -- ground truth ----------------------------------------------------------------------

    def records(self, dataset: str, **options: Any) -> list[dict[str, Any]] | None:
        """Every view of a database or miniview of a collection (None: not a selection list)."""
        if dataset == "views":
            db = int(options.get("database_id", 7616))
            return [s.record for s in self.views.values() if s.owner == db]
        if dataset == "miniviews":
            coll = int(options.get("collection_id", 6312))
            return [s.record for s in self.miniviews.values() if s.owner == coll]
        return None

    def expected_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """Members of a view or miniview, or the selections themselves (windows ignored)."""
        if dataset in ("view_profiles", "view_profile_ids"):
            return sorted(self.members("view", int(options["view_id"])))
        if dataset == "miniview_subprofiles":
            return sorted(self.members("miniview", int(options["miniview_id"])))
        records = self.records(dataset, **options)
        return None if records is None else sorted(int(r["ID"]) for r in records)


def routes(selections: Selections, listing: Listing) -> list[Route]:
    """The endpoints of views and miniviews: lists, rules, members."""
    people = selections.people

    def selection(kind: str, ident: str) -> Selection:
        pool = selections.views if kind == "view" else selections.miniviews
        try:
            number = int(ident)
        except ValueError:
            raise HTTPError(400, f"No {kind} with supplied ID") from None
        found = pool.get(number)
        if found is None:
            raise HTTPError(400, f"No {kind} with supplied ID")
        return found

    def views(query: Query, db: str) -> Any:
        database = database_of(people, db)
        top = [
            s.record
            for s in selections.views.values()
            if str(s.owner) == database["ID"] and s.parent is None
        ]
        return page_of(top, query)

    def view_views(query: Query, ident: str) -> Any:
        parent = selection("view", ident)
        children = [s.record for s in selections.views.values() if s.parent == parent.ident]
        return page_of(children, query)

    def miniviews(query: Query, coll: str) -> Any:
        collection_of(people, coll)
        found = [s.record for s in selections.miniviews.values() if str(s.owner) == coll]
        return page_of(found, query)

    def view(query: Query, ident: str) -> Any:
        return selection("view", ident).record

    def miniview(query: Query, ident: str) -> Any:
        return selection("miniview", ident).record

    def rules(query: Query, kind: str, ident: str) -> Any:
        return page_of(selections.rules(selection(kind, ident), kind), query)

    def members(query: Query, kind: str, ident: str) -> Any:
        table, test = selections.member_test(kind, selection(kind, ident))
        return people_page(table, query, listing, extra=[(f"{kind}:{ident}", test)])

    def member_ids(query: Query, ident: str) -> Any:
        # documented without parameters: the whole list, whatever start/limit say
        table, test = selections.member_test("view", selection("view", ident))
        return [table.ids[i] for i in table.alive() if test(i)]

    return [
        (r"database/(?P<db>[^/]+)/views", views),
        (r"view/(?P<ident>[^/]+)", view),
        (r"view/(?P<ident>[^/]+)/views", view_views),
        (r"(?P<kind>view|miniview)/(?P<ident>[^/]+)/rules", rules),
        (r"view/(?P<ident>[^/]+)/profileids", member_ids),
        (r"(?P<kind>view)/(?P<ident>[^/]+)/profiles", members),
        (r"(?P<kind>miniview)/(?P<ident>[^/]+)/subprofiles", members),
        (r"collection/(?P<coll>[^/]+)/miniviews", miniviews),
        (r"miniview/(?P<ident>[^/]+)", miniview),
    ]
