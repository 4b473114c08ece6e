"""Sandbox coverage of the catalog's selections, interests, templates, documents, scheduled
emailings, coupons and emailing enrichments: their seeded data, routes and ground truth.

Selections are predicates over the generated (sub)profiles, so their members follow every
mutation of the profile tables; a nested view's members are those of its parent that also
match its own rule. ``last-built`` times include the repeated autumn DST hour. Template and
document statistics aggregate the emailing statistics of the emailings that used them.
Templates and documents have a hidden creation/modification time (around the autumn DST
day) that only their lists' time filters read, as on the live API.
:class:`Coverage` is built by :class:`~airflow_provider_copernica.sandbox.data.SandboxData`;
:func:`routes` wires it into the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_copernica.sandbox.timeutil import (
    DAY,
    TZ,
    fmt_local,
    local_midnight,
    local_naive,
    to_datetime,
)

if TYPE_CHECKING:
    from airflow_provider_copernica.sandbox.data import SandboxData
    from airflow_provider_copernica.sandbox.server import Query, SandboxApp
    from airflow_provider_copernica.sandbox.tables import Table

DATASETS = (
    "views",
    "miniviews",
    "view_profiles",
    "view_profile_ids",
    "miniview_subprofiles",
    "interests",
    "templates",
    "documents",
    "template_statistics",
    "document_statistics",
    "scheduled_emailings",
    "coupon_campaigns",
    "coupons",
)
EMAILING_STATUSES = ("sent", "draft", "scheduled", "all")
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
COUPONS_PER_CAMPAIGN = {1: 2345, 2: 40, 3: 0}
# The lists' time filters (lower, upper bound; both inclusive, naive local like every
# Copernica time): drag-and-drop templates by creation, html templates and documents by
# modification. The records themselves carry no time.
CONTENT_FILTERS: dict[tuple[str, str], tuple[str, str]] = {
    ("templates", "draganddrop"): ("created_after", "created_before"),
    ("templates", "html"): ("modifiedfromdate", "modifiedtodate"),
    ("documents", "html"): ("modifiedfromdate", "modifiedtodate"),
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


class Coverage:
    """The seeded records of the coverage datasets and their ground truth."""

    def __init__(self, data: SandboxData) -> None:
        self.data = data
        autumn = [t for t, kind in data.dst_changes if kind == "autumn"]
        # one selection was last built in the repeated hour (02:30 local, first fold)
        built = [autumn[-1] - 1800] if autumn else []
        built += [data.span_end - DAY * (n + 1) + 3600 * n for n in range(12)]
        self.views: dict[int, Selection] = {}
        self.miniviews: dict[int, Selection] = {}
        n = 0
        for database, specs in VIEW_SPECS.items():
            for ident, name, parent, field, comparison, value in specs:
                children = any(p == ident for _, _, p, *_ in specs)
                record = {
                    "ID": str(ident),
                    "name": name,
                    "description": f"{field} {comparison} {value}",
                    "parent-type": "view" if parent else "database",
                    "parent-id": str(parent or database),
                    "has-children": children,
                    "has-referred": False,
                    "has-rules": True,
                    "database": str(database),
                    "last-built": fmt_local(built[n % len(built)]),
                    "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
                }
                n += 1
                sel = Selection(ident, record, parent, field, comparison, value, database)
                self.views[ident] = sel
        for collection, mini_specs in MINIVIEW_SPECS.items():
            for ident, name, field, comparison, value in mini_specs:
                record = {
                    "ID": str(ident),
                    "name": name,
                    "description": f"{field} {comparison} {value}",
                    "parent-type": "collection",
                    "parent-id": str(collection),
                    "collection": str(collection),
                    "last-built": fmt_local(built[n % len(built)]),
                    "intentions": {"email": 1, "sms": None, "fax": None, "pdf": None},
                }
                n += 1
                sel = Selection(ident, record, None, field, comparison, value, collection)
                self.miniviews[ident] = sel
        self.templates = {
            "draganddrop": [
                {
                    "id": str(t),
                    "name": f"Theme {t}",
                    "from_address": {"name": "Sandbox Shop", "email": "news@example.com"},
                    "subject": f"Newsletter theme {t}",
                    "type": "json" if t % 2 else "html",
                    "archived": t == 583,
                    "directory": str(78 + t % 2),
                }
                for t in range(579, 584)
            ],
            "html": [
                {"id": str(t), "name": f"Publisher template {t}", "archived": t == 583}
                for t in range(579, 584)
            ],
        }
        self.documents = [
            {
                "id": str(d),
                "template": str(579 + d % 4),
                "name": f"Document {d}",
                "from_address": '"Sandbox Shop" <news@example.com>',
                "subject": f"Document {d}",
                "archived": 1 if d == 117 else None,
                "source": f"<html><body>Document {d}</body></html>",
            }
            for d in range(114, 118)
        ]
        self.content_times = self._content_times(autumn[-1] if autumn else data.span_end - DAY)
        soon = data.span_end + 3 * 3600
        autumn_local = fmt_local(autumn[-1] - 1800) if autumn else fmt_local(soon)
        target = {"type": "database", "sources": [{"id": "7616", "type": "database"}]}
        sender = {"name": "Sandbox Shop", "email": "news@example.com"}
        self.scheduled = {
            "draganddrop": [
                {
                    "id": str(1742 + k),
                    "start": autumn_local if k == 0 else fmt_local(soon - k * 7 * DAY),
                    "rrule": ("FREQ=DAILY;COUNT=2", "FREQ=WEEKLY", "FREQ=MONTHLY")[k],
                    "template": str(579 + k),
                    "next": fmt_local(soon + k * DAY),
                    "previous": autumn_local if k == 0 else fmt_local(soon - DAY),
                    "subject": f"Scheduled {k + 1}",
                    "from_address": sender,
                    "type": "mass",
                    "target": target,
                }
                for k in range(3)
            ],
            "html": [
                {
                    "id": str(456 + k),
                    "next": fmt_local(soon + k * DAY),
                    "previous": autumn_local,
                    "interval": {"count": 1, "unit": ("day", "week")[k]},
                    "iterations": -1 if k == 0 else 10,
                    "processed_iterations": str(168 + k),
                    "scheduled_iterations": "-1" if k == 0 else "3",
                    "document": 114 + k,
                    "template": 579 + k,
                    "subject": f"Reminder {k + 1}",
                    "from_address": sender,
                    "testgroups": 0,
                    "emailing_type": "normal",
                    "contenttype": "both",
                    "target": target,
                }
                for k in range(2)
            ],
        }
        self.campaigns: list[dict[str, Any]] = []
        self.coupons: dict[int, list[dict[str, Any]]] = {}
        coupon_id = 8
        for campaign, count in COUPONS_PER_CAMPAIGN.items():
            rows = []
            for k in range(count):
                status = ("available", "sent", "sent", "redeemed")[k % 4]
                rows.append(
                    {
                        "ID": str(coupon_id),
                        "code": f"C{campaign}-{coupon_id:06X}",
                        "validfrom": fmt_local(data.span_start + k * 3600),
                        "validuntil": "" if k % 3 else fmt_local(data.span_end + 30 * DAY),
                        "status": status,
                    }
                )
                coupon_id += 1
            self.coupons[campaign] = rows
            self.campaigns.append(
                {
                    "ID": str(campaign),
                    "name": f"Campaign {campaign}",
                    "code": f"Campaign {campaign}",
                    "description": f"Coupon campaign {campaign}",
                    "archived": campaign == 3,
                    "available": sum(r["status"] == "available" for r in rows),
                    "sent": sum(r["status"] == "sent" for r in rows),
                    "redeemed": sum(r["status"] == "redeemed" for r in rows),
                    "tags": ["discount", f"c{campaign}"] if campaign != 2 else [],
                }
            )

    def _content_times(self, change: int) -> dict[tuple[str, str], dict[int, int]]:
        """(dataset, product) -> id -> the UTC epoch its list's time filter reads: around
        the local day of the autumn DST change (its first and last second, both 02:30s)."""
        day = to_datetime(change).astimezone(TZ).date()
        start = local_midnight(day)  # the local day is 25 hours long
        end = start + 25 * 3600
        offsets = {
            ("templates", "draganddrop"): [
                start - DAY // 2,
                start,
                change - 1800,
                change + 1800,
                end,
            ],
            ("templates", "html"): [start - 1, start + 3600, change + 1800, end - 1, end + DAY],
            ("documents", "html"): [start - 7200, change - 1800, end - 1, end],
        }
        times = {}
        for (dataset, product), moments in offsets.items():
            records = self.documents if dataset == "documents" else self.templates[product]
            times[(dataset, product)] = {
                int(r["id"]): moment for r, moment in zip(records, moments, strict=True)
            }
        return times

    def content(
        self, dataset: str, product: str, low: int | None, high: int | None
    ) -> list[dict[str, Any]]:
        """The templates/documents whose time (naive local) is within ``[low, high]``."""
        records = self.documents if dataset == "documents" else self.templates[product]
        if low is None and high is None:
            return list(records)
        times = self.content_times[(dataset, product)]

        def within(moment: int) -> bool:
            naive = local_naive(moment)
            return (low is None or naive >= low) and (high is None or naive <= high)

        return [r for r in records if within(times[int(r["id"])])]

    # -- selections ----------------------------------------------------------------------

    def lineage(self, selection: Selection, pool: dict[int, Selection]) -> list[Selection]:
        chain = [selection]
        while chain[-1].parent is not None:
            chain.append(pool[chain[-1].parent])
        return chain

    def member_test(self, kind: str, ident: int) -> tuple[Table, Callable[[int], bool]] | None:
        """The owner table of a view/miniview and the row test of its members."""
        pool = self.views if kind == "view" else self.miniviews
        selection = pool.get(ident)
        if selection is None:
            return None
        if kind == "view":
            table = self.data.profile_table(selection.owner)
        else:
            table = self.data.subprofile_table(selection.owner)
        assert table is not None
        chain = self.lineage(selection, pool)
        field_of = table.field_getter
        assert field_of is not None

        def test(i: int) -> bool:
            return all(_matches(s.comparison, field_of(i, s.field), s.value) for s in chain)

        return table, test

    def members(self, kind: str, ident: int) -> list[int]:
        found = self.member_test(kind, ident)
        if found is None:
            return []
        table, test = found
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

    # -- statistics -----------------------------------------------------------------------

    def content_statistics(
        self, product: str, ident: int, within: Callable[[Table, int], bool] | None
    ) -> dict[str, Any]:
        """A template's (draganddrop) or document's (html) statistics: the sums over the
        emailings that used it."""
        column = "template" if product == "draganddrop" else "document"
        mails = self.data.emailings[product]
        totals: dict[str, Any] = {"destinations": 0}
        kinds = ("deliveries", "errors", "impressions", "clicks", "unsubscribes", "abuses")
        for kind in kinds:
            totals[kind] = {"total": 0} if kind == "deliveries" else {"total": 0, "unique": 0}
        totals["retries"] = {"total": 0}
        totals["unknown"] = {"total": 0}
        for i in mails.alive():
            if str(mails.rows[i].get(column)) != str(ident):
                continue
            stats = self.data.statistics(product, mails.ids[i], within) or {}
            totals["destinations"] += int(stats.get("destinations") or 0)
            for kind in kinds:
                for name in totals[kind]:
                    totals[kind][name] += int(stats.get(kind, {}).get(name) or 0)
        return totals

    # -- ground truth ---------------------------------------------------------------------

    def records(self, dataset: str, **options: Any) -> list[dict[str, Any]]:
        """Every record of a snapshot coverage dataset as the API renders it."""
        product = options.get("product") or "draganddrop"
        if dataset == "views":
            db = int(options.get("database_id", 7616))
            return [s.record for s in self.views.values() if s.owner == db]
        if dataset == "miniviews":
            coll = int(options.get("collection_id", 6312))
            return [s.record for s in self.miniviews.values() if s.owner == coll]
        if dataset == "interests":
            found = self.data.database(options.get("database_id", 7616))
            return list(found["interests"]["data"]) if found else []
        if dataset == "templates":
            return list(self.templates[product])
        if dataset == "documents":
            return list(self.documents)
        if dataset == "scheduled_emailings":
            return list(self.scheduled[product])
        if dataset == "coupon_campaigns":
            return list(self.campaigns)
        if dataset == "coupons":
            return list(self.coupons.get(int(options.get("couponcampaign_id", 1)), []))
        raise ValueError(f"not a snapshot coverage dataset: {dataset!r}")

    def expected_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """Ids of a correct extraction for ``[lo, hi)`` (UTC epochs), or None when the dataset
        (with these options) is not covered here."""
        if dataset in ("view_profiles", "view_profile_ids"):
            return sorted(self.members("view", int(options["view_id"])))
        product = options.get("product") or "draganddrop"
        windowed = ("created_in_interval", "modified_in_interval")
        if (dataset, product) in self.content_times and any(
            str(options.get(o)).lower() == "true" for o in windowed
        ):
            times = self.content_times[(dataset, product)]
            return sorted(i for i, moment in times.items() if lo <= moment < hi)
        if dataset == "miniview_subprofiles":
            return sorted(self.members("miniview", int(options["miniview_id"])))
        if dataset in ("template_statistics", "document_statistics"):
            product = "draganddrop" if dataset == "template_statistics" else "html"
            items = self.templates[product] if product == "draganddrop" else self.documents
            found = []
            for item in items:
                stats = self.content_statistics(
                    product, int(item["id"]), lambda t, i: lo <= t.ts[i] < hi
                )
                if any(stats[k]["total"] for k in stats if k not in ("destinations", "unknown")):
                    found.append(int(item["id"]))
            return sorted(found)
        if dataset in DATASETS:
            return sorted(int(r.get("ID", r.get("id"))) for r in self.records(dataset, **options))
        return self.option_ids(dataset, lo, hi, **options)

    def option_ids(self, dataset: str, lo: int, hi: int, **options: Any) -> list[Any] | None:
        """Windowed datasets filtered by a choice option (``status``, ``test``, ``unique``)."""
        product = options.get("product") or "draganddrop"
        if dataset == "emailings" and ("status" in options or "test" in options):
            table = self.data.emailings[product]
            status, test = options.get("status"), options.get("test", "both")
            rows = [i for i in table.alive() if lo <= table.ts[i] < hi]
            if status is not None and status != "all":
                rows = [i for i in rows if table.columns["status"][i] == status]
            if test != "both":
                rows = [i for i in rows if table.columns["test"][i] == (test == "yes")]
            return [table.ids[i] for i in rows]
        if dataset in ("clicks", "unsubscribes") and str(options.get("unique")).lower() == "true":
            table = self.data.events[(product, dataset)]
            seen: set[tuple[Any, ...]] = set()
            firsts = []
            dests, variants = table.columns["destination"], table.columns["variant"]
            for i in table.alive():
                key = (dests[i], variants[i]) if dataset == "clicks" else (dests[i],)
                if key not in seen:
                    seen.add(key)
                    firsts.append(i)
            return [table.ids[i] for i in firsts if lo <= table.ts[i] < hi]
        return None

    def emailing_name(self, product: str, ident: int) -> str:
        """The name an emailing's snapshot shows (the lists do not carry it)."""
        return f"{'Campaign' if product == 'draganddrop' else 'Mailing'} {ident}"

    def hyperlink_extensions(self, product: str, ident: int) -> Any:
        utm = {"utm_source": "copernica", "utm_medium": "email", "utm_campaign": f"m{ident}"}
        if product == "html":
            return {"all": utm, "example.com": {**utm, "utm_content": "link"}}
        return {
            "data": [
                {
                    "parameter": name,
                    "value": value,
                    "type": "setparameter",
                    "last": False,
                    "unique": False,
                    "checks": [],
                }
                for name, value in utm.items()
            ]
        }


def routes(app: SandboxApp) -> list[tuple[str, Callable[..., Any]]]:
    """The coverage endpoints, as (path pattern, handler) pairs for the server's table."""
    from airflow_provider_copernica.sandbox.server import _PRODUCT, HTTPError, page_of

    def cov() -> Coverage:
        return app.data.coverage

    def number(text: str, what: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise HTTPError(400, f"No {what} with supplied ID") from None

    def selection(kind: str, ident: str) -> Selection:
        pool = cov().views if kind == "view" else cov().miniviews
        found = pool.get(number(ident, kind))
        if found is None:
            raise HTTPError(400, f"No {kind} with supplied ID")
        return found

    def views(query: Query, db: str) -> Any:
        database = app._database(db)
        top = [
            s.record
            for s in cov().views.values()
            if str(s.owner) == database["ID"] and s.parent is None
        ]
        return page_of(top, query)

    def view_views(query: Query, ident: str) -> Any:
        parent = selection("view", ident)
        return page_of([s.record for s in cov().views.values() if s.parent == parent.ident], query)

    def miniviews(query: Query, coll: str) -> Any:
        app.collection(query, coll)
        found = [s.record for s in cov().miniviews.values() if str(s.owner) == coll]
        return page_of(found, query)

    def view(query: Query, ident: str) -> Any:
        return selection("view", ident).record

    def miniview(query: Query, ident: str) -> Any:
        return selection("miniview", ident).record

    def rules(query: Query, kind: str, ident: str) -> Any:
        found = selection(kind, ident)
        return page_of(cov().rules(found, kind), query)

    def members(query: Query, kind: str, ident: str) -> Any:
        table, test = cov().member_test(kind, selection(kind, ident).ident) or (None, None)
        return app._people_page(table, query, extra=[(f"{kind}:{ident}", test)])

    def member_ids(query: Query, ident: str) -> Any:
        # documented without parameters: the whole list, whatever start/limit say
        table, test = cov().member_test("view", selection("view", ident).ident) or (None, None)
        return [table.ids[i] for i in table.alive() if test(i)]

    def content(query: Query, dataset: str, product: str) -> list[dict[str, Any]]:
        # the other product's parameter names are unknown there, so silently ignored
        low, high = CONTENT_FILTERS[(dataset, product)]
        return cov().content(dataset, product, query.naive(low), query.naive(high))

    def templates(query: Query, product: str) -> Any:
        return page_of(content(query, "templates", product), query)

    def documents(query: Query, product: str) -> Any:
        if product != "html":
            raise HTTPError(400, "Invalid method")
        rows = content(query, "documents", product)
        if not query.boolean("source", True):
            rows = [{k: v for k, v in r.items() if k != "source"} for r in rows]
        return page_of(rows, query)

    def template_documents(query: Query, product: str, ident: str) -> Any:
        # not a catalog dataset: the generic endpoint's example of a list the catalog lacks
        if product != "html":
            raise HTTPError(400, "Invalid method")
        if not any(t["id"] == ident for t in cov().templates["html"]):
            raise HTTPError(400, "No template with supplied ID")
        return page_of([d for d in cov().documents if d["template"] == ident], query)

    def content_statistics(query: Query, product: str, what: str, ident: str) -> Any:
        if (what == "template") != (product == "draganddrop"):
            raise HTTPError(400, "Invalid method")
        items = cov().templates[product] if what == "template" else cov().documents
        if not any(item["id"] == ident for item in items):
            raise HTTPError(400, f"No {what} with supplied ID")
        low, high = query.naive("begintime"), query.naive("endtime")
        hidden = app.data.hidden()

        def within(table: Table, i: int) -> bool:
            if hidden is not None and table.ts[i] >= hidden:
                return False
            lts = table.lts[i]
            return (low is None or lts >= low) and (high is None or lts <= high)

        return cov().content_statistics(product, int(ident), within)

    def scheduled(query: Query, product: str) -> Any:
        return page_of(cov().scheduled[product], query)

    def campaigns(query: Query) -> Any:
        return page_of(cov().campaigns, query)

    def coupons(query: Query, ident: str) -> Any:
        found = cov().coupons.get(number(ident, "couponcampaign"))
        if found is None:
            raise HTTPError(400, "No couponcampaign with supplied ID")
        return page_of(found, query)

    def snapshot(query: Query, product: str, mailing: str) -> Any:
        index = app._mailing_index(product, mailing)
        row = app.data.emailings[product].rows[index]
        return {
            "template": row.get("template"),
            "name": cov().emailing_name(product, int(mailing)),
            "from_address": f'"{row["from_address"]["name"]}" <{row["from_address"]["email"]}>',
            "subject": row.get("subject"),
        }

    def extensions(query: Query, product: str, mailing: str) -> Any:
        app._mailing_index(product, mailing)
        return cov().hyperlink_extensions(product, int(mailing))

    mailing = _PRODUCT + r"/emailing/(?P<mailing>[^/]+)"
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
        (_PRODUCT + r"/templates", templates),
        (_PRODUCT + r"/documents", documents),
        (
            _PRODUCT + r"/(?P<what>template|document)/(?P<ident>[^/]+)/statistics",
            content_statistics,
        ),
        (_PRODUCT + r"/template/(?P<ident>[^/]+)/documents", template_documents),
        (_PRODUCT + r"/scheduledemailings", scheduled),
        (r"couponcampaigns", campaigns),
        (r"couponcampaign/(?P<ident>[^/]+)/coupons", coupons),
        (mailing + r"/snapshot", snapshot),
        (mailing + r"/hyperlinkextensions", extensions),
    ]
